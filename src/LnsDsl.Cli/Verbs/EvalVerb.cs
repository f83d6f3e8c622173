using System;
using System.Globalization;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Interop;
using LnsDsl.Loading;

namespace LnsDsl.Cli.Verbs
{
    [Verb("eval", HelpText = "Held-out loss and perplexity of a checkpoint (a run's, or a Hugging Face one with --hf) on a fixed validation split; with --tasks, multiple-choice accuracy instead (docs/TASKS.md).")]
    public sealed class EvalVerb : DeviceVerb, IModelSourceOptions, IBatchesOption, IBatchOption, IDataOption, ITokenizerOption, ISeqOption, IPackingOption, ITaskOptions
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records).")]
        public string? Model { get; set; }

        public string? Checkpoint { get; set; }
        public string? Hf { get; set; }
        public int? Batches { get; set; }
        public int? Batch { get; set; }
        public string? Data { get; set; }
        public string? TextColumn { get; set; }
        public string? Tokenizer { get; set; }
        public int? Seq { get; set; }
        public Packing? Packing { get; set; }

        public System.Collections.Generic.IEnumerable<string> Tasks { get; set; } = Array.Empty<string>();

        public int? Shots { get; set; }

        public string? TaskFormat { get; set; }

        [Option("json", HelpText = "With --tasks: also write the results to this JSON file.")]
        public string? Json { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Tokenizer", "Json" };

        public override object[] Records() => new object[] { new EvalOptions() };

        public override int Run()
        {
            var options = Settings.Apply(this, new EvalOptions());
            if (Json is not null && options.Tasks.Count == 0) throw new UserError("--json writes task results: give --tasks too");
            using var trained = ModelSources.Open(Checkpoint, Hf, Model, options.Device, options.Dtype, Tokenizer, Console.Error.WriteLine);
            var c = CultureInfo.InvariantCulture;
            if (options.Tasks.Count > 0)
            {
                var results = TaskScorer.Evaluate(trained, options, Console.Error.WriteLine);
                Console.WriteLine(string.Format(c, "{0}, {1}-shot ({2}):", trained.Label, options.Shots, trained.Tokenizer.Name));
                Console.WriteLine(string.Format(c, "{0,-24} {1,-10} {2,7} {3,8} {4,9} {5,8}", "task", "format", "n", "acc", "acc_norm", "stderr"));
                foreach (var r in results)
                    Console.WriteLine(string.Format(c, "{0,-24} {1,-10} {2,7} {3,8:F4} {4,9:F4} {5,8:F4}", r.Task, r.Format, r.N, r.Acc, r.AccNorm, r.AccStderr));
                if (Json is not null)
                {
                    AtomicFile.WriteAllText(Json, TaskScorer.ToJson(results, trained.Label));
                    Console.WriteLine($"wrote {Json}");
                }
                return 0;
            }
            var result = Evaluator.Evaluate(trained, options, Console.Error.WriteLine);
            Console.WriteLine(string.Format(c, "{0} at step {1} on the validation split of {2} ({3}):", result.Model, result.Step, result.Data, result.Tokenizer));
            Console.WriteLine(string.Format(c, "validation loss {0:F4}, perplexity {1:F2} (uniform over {2} ids: {2})", result.Loss, Math.Exp(result.Loss), result.VocabSize));
            return 0;
        }
    }
}
