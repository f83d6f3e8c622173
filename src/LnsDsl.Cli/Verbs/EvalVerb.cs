using System;
using System.Globalization;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Interop;

namespace LnsDsl.Cli.Verbs
{
    [Verb("eval", HelpText = "Held-out loss and perplexity of a checkpoint (a run's, or a Hugging Face one with --hf) on a fixed validation split.")]
    public sealed class EvalVerb : DeviceVerb, IModelSourceOptions, IBatchesOption, IBatchOption, IDataOption, ITokenizerOption, ISeqOption, IPackingOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records).")]
        public string? Model { get; set; }

        public string? Checkpoint { get; set; }
        public string? Hf { get; set; }
        public int? Batches { get; set; }
        public int? Batch { get; set; }
        public string? Data { get; set; }
        public string? Tokenizer { get; set; }
        public int? Seq { get; set; }
        public Packing? Packing { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Tokenizer" };

        public override object[] Records() => new object[] { new EvalOptions() };

        public override int Run()
        {
            var options = Settings.Apply(this, new EvalOptions());
            using var trained = ModelSources.Open(Checkpoint, Hf, Model, options.Device, options.Dtype, Tokenizer, Console.Error.WriteLine);
            var result = Evaluator.Evaluate(trained, options, Console.Error.WriteLine);
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Format(c, "{0} at step {1} on the validation split of {2} ({3}):", result.Model, result.Step, result.Data, result.Tokenizer));
            Console.WriteLine(string.Format(c, "validation loss {0:F4}, perplexity {1:F2} (uniform over {2} ids: {2})", result.Loss, Math.Exp(result.Loss), result.VocabSize));
            return 0;
        }
    }
}
