using System;
using System.Collections.Generic;
using System.Linq;
using CommandLine;
using LnsDsl.Analysis;
using LnsDsl.Cli.Options;
using LnsDsl.Data;
using LnsDsl.Experiments;

namespace LnsDsl.Cli.Verbs
{
    [Verb("analyze", HelpText = "Layer analysis of checkpoints (runs' or Hugging Face ones with --hf): output variance, angular distance (curve and heatmap), layer-removal drop, gradient norms; table, CSV and PNG plots.")]
    public sealed class AnalyzeVerb : DeviceVerb, IBatchesOption, IBatchOption, IDataOption, ITokenizerOption, ISeqOption, IPackingOption
    {
        [Option("checkpoint", HelpText = "Run directories or checkpoints/step-* directories (several: one plot).")]
        public IEnumerable<string> Checkpoints { get; set; } = Array.Empty<string>();

        [Option("hf", HelpText = "Hugging Face checkpoint directories (several: one plot), measured with their own tokenizer on --data.")]
        public IEnumerable<string> HuggingFace { get; set; } = Array.Empty<string>();

        [Option("model", HelpText = "Model class name for --checkpoint (default: the one recorded in each checkpoint).")]
        public string? Model { get; set; }

        [Option("out", HelpText = "Directory for the CSV files and plots (default: analysis/ in the first run directory, or in the Hugging Face directory).")]
        public string? Out { get; set; }

        [Option("last-token", HelpText = "Angular distances at each sequence's last token only (the paper's script), not over every token.")]
        public bool LastToken { get; set; }

        [Option("skip-gradients", HelpText = "Skip the per-block gradient norms (their backward pass holds a gradient per weight: twice the memory).")]
        public bool SkipGradients { get; set; }

        public int? Batches { get; set; }
        public int? Batch { get; set; }
        public string? Data { get; set; }
        public string? TextColumn { get; set; }
        public string? Tokenizer { get; set; }
        public int? Seq { get; set; }
        public Packing? Packing { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Tokenizer" };

        public override object[] Records() => new object[] { new AnalyzeOptions() };

        public override int Run()
        {
            var result = CheckpointAnalysis.Run(Checkpoints.ToList(), HuggingFace.ToList(), Model, Settings.Apply(this, new AnalyzeOptions()), Tokenizer,
                report => Console.WriteLine(LayerAnalysis.Table(report)), Console.Error.WriteLine);
            foreach (var file in result.Files)
                Console.WriteLine($"wrote {file}");
            return 0;
        }
    }
}
