using System;
using LnsDsl.Data;

namespace LnsDsl.Evaluation
{
    /// <summary>A checkpoint's held-out loss on its run's validation split.</summary>
    public sealed record EvalResult(string Model, int Step, string Data, string Tokenizer, int VocabSize, double Loss);

    /// <summary>Evaluates checkpoints (<c>lnsrun eval</c>).</summary>
    public static class Evaluator
    {
        /// <summary>
        /// The mean next-token loss of the checkpoint at <paramref name="path"/> on the first
        /// <see cref="EvalOptions.Batches"/> fixed batches of its run's validation split (its data, tokenizer,
        /// packing and sequence length). <paramref name="model"/> overrides the model the checkpoint records.
        /// </summary>
        public static EvalResult Checkpoint(string path, string? model, EvalOptions options, Action<string>? log = null)
        {
            if (options.Batches < 1 || options.Batch < 1) throw new SettingError("{Batches} and {Batch} must be at least 1");
            var device = Devices.Resolve(options.Device);
            using var trained = TrainedModel.Load(path, model, device, options.Dtype);
            using var data = trained.OpenData(log);
            if (data.Tokenizer.Name != trained.Tokenizer.Name)
                throw new UserError($"the data's tokenizer ({data.Tokenizer.Name}) differs from the checkpoint's ({trained.Tokenizer.Name})");
            var o = trained.Options;
            var spec = trained.Model.Spec;
            double loss = Losses.Evaluate(trained.Model, data.Valid, o.Packing, options.Batches, options.Batch, o.Seq, data.Tokenizer.EndOfText, spec.Vocab, device);
            return new EvalResult(spec.Name, trained.State.Step, data.Description, trained.Tokenizer.Name, trained.Tokenizer.VocabSize, loss);
        }
    }
}
