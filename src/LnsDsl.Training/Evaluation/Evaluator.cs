using System;
using System.Linq;
using LnsDsl.Data;

namespace LnsDsl.Evaluation
{
    /// <summary>A checkpoint's held-out loss on its run's validation split.</summary>
    public sealed record EvalResult(string Model, int Step, string Data, string Tokenizer, int VocabSize, double Loss);

    /// <summary>Evaluates checkpoints (<c>lnsrun eval</c>).</summary>
    public static class Evaluator
    {
        /// <summary>
        /// The mean next-token loss of <paramref name="trained"/> on the first <see cref="EvalOptions.Batches"/> fixed
        /// batches of its validation split (its data settings, with the options' overrides).
        /// </summary>
        public static EvalResult Evaluate(TrainedModel trained, EvalOptions options, Action<string>? log = null)
        {
            if (options.Batches < 1 || options.Batch < 1) throw new SettingError("{Batches} and {Batch} must be at least 1");
            trained.UseData(options.Data, options.Seq, options.Packing);
            var device = trained.Model.parameters().First().device;
            if (trained.OnInstructions) // a fine-tuned run on its own data: the held-out examples' response loss, as its training evaluated
            {
                var instructions = trained.OpenInstructions();
                double sft = instructions.Evaluate(trained.Model, options.Batches, options.Batch, trained.Options.Seq, device);
                return new EvalResult(trained.Label, trained.Step, instructions.Summary, trained.Tokenizer.Name, trained.Tokenizer.VocabSize, sft);
            }
            using var data = trained.OpenData(log);
            if (data.Tokenizer.Name != trained.Tokenizer.Name)
                throw new UserError($"the data's tokenizer ({data.Tokenizer.Name}) differs from the model's ({trained.Tokenizer.Name})");
            var o = trained.Options;
            var spec = trained.Model.Spec;
            double loss = Losses.Evaluate(trained.Model, data.Valid, o.Packing, options.Batches, options.Batch, o.Seq, data.Tokenizer.EndOfText, device);
            return new EvalResult(trained.Label, trained.Step, data.Description, trained.Tokenizer.Name, trained.Tokenizer.VocabSize, loss);
        }
    }
}
