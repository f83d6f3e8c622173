using System;
using System.Globalization;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Evaluation;
using LnsDsl.Models;

namespace LnsDsl.Cli.Verbs
{
    [Verb("eval", HelpText = "Held-out loss and perplexity of a checkpoint on the fixed validation split.")]
    public sealed class EvalVerb : DeviceVerb, ICheckpointOption, IBatchesOption, IBatchOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records).")]
        public string? Model { get; set; }

        public string Checkpoint { get; set; } = "";
        public int? Batches { get; set; }
        public int? Batch { get; set; }

        public override object[] Records() => new object[] { new EvalOptions() };

        public override int Run()
        {
            var result = Evaluator.Checkpoint(Checkpoint, Model, Settings.Apply(this, new EvalOptions()), Console.Error.WriteLine);
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Format(c, "{0} at step {1} on the validation split of {2} ({3}):", result.Model, result.Step, result.Data, result.Tokenizer));
            Console.WriteLine(string.Format(c, "validation loss {0:F4}, perplexity {1:F2} (uniform over {2} ids: {2})", result.Loss, Math.Exp(result.Loss), result.VocabSize));
            return 0;
        }
    }
}
