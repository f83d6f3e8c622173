using System;
using System.Collections.Generic;
using System.Linq;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Data;
using LnsDsl.Experiments;

namespace LnsDsl.Cli.Verbs
{
    [Verb("compare", HelpText = "Train (or reuse) several models on the same data, recipe and seeds; table, ranking over the token budget, plots. Resumable.")]
    public sealed class CompareVerb : RecipeVerb, ITaskOptions
    {
        [Value(0, MetaName = "MODELS", HelpText = "Model class names (or --preset).")]
        public IEnumerable<string> Models { get; set; } = Array.Empty<string>();

        [Option("preset", HelpText = "The paper's comparison for one size of the CPU family, e.g. 12x128: Pre-LN, LNS, Post-LN, Mix-LN, Peri-LN, DeepNorm, LNS + scaled init; rivals-12x128: Pre-LN, LNS, ReZero, DyT, BHyT, Depth-muP, CompleteP, HybridNorm, mHC.")]
        public string? Preset { get; set; }

        [Option("lr", Separator = ',', HelpText = "Peak learning rates to sweep, comma-separated.")]
        public IEnumerable<double> LearningRates { get; set; } = Array.Empty<double>();

        [Option("hf", HelpText = "Hugging Face checkpoint directories to measure beside the runs (the same text with their own tokenizers; imported, not trained).")]
        public IEnumerable<string> Imported { get; set; } = Array.Empty<string>();

        [Option("checkpoint", HelpText = "Checkpoints of any kind (runs, fine-tuned or converted runs, PyTorch exports) to measure beside the runs on the same text (not trained).")]
        public IEnumerable<string> Checkpoints { get; set; } = Array.Empty<string>();

        public IEnumerable<string> Tasks { get; set; } = Array.Empty<string>();
        public int? Shots { get; set; }
        public string? TaskFormat { get; set; }

        [Option("seeds", HelpText = "Seeds per model and learning rate (0, 1, ...).")]
        public int? Seeds { get; set; }

        [Option("out", HelpText = "Comparison directory (a run directory per model, learning rate and seed inside).")]
        public string? Out { get; set; }

        [Option("analysis-batches", HelpText = "Validation batches of each run's layer analysis.")]
        public int? AnalysisBatches { get; set; }


        public override object[] Records() { var c = new ComparisonOptions(); return new object[] { c, c.Train }; }

        public override int Run()
        {
            var defaults = new ComparisonOptions();
            var models = Models.ToList();
            if (Preset is not null) models.AddRange(ComparisonOptions.Preset(Preset));
            var options = Settings.Apply(this, defaults) with { Models = models, Train = Settings.Apply(this, defaults.Train) with { Out = null } };
            return WithCtrlC("finishing the current step and checkpointing its run", cancel =>
            {
                try
                {
                    new Comparison(options).Run(cancel);
                    return 0;
                }
                catch (OperationCanceledException)
                {
                    Console.Error.WriteLine("interrupted: run the same command again to continue where it stopped");
                    return 130;
                }
            });
        }
    }
}
