using System;
using System.Collections.Generic;
using System.Linq;
using CommandLine;
using LnsDsl.Analysis;
using LnsDsl.Cli.Options;
using LnsDsl.Experiments;

namespace LnsDsl.Cli.Verbs
{
    [Verb("analyze", HelpText = "Layer analysis of checkpoints: output variance, angular distance (curve and heatmap), layer-removal drop, gradient norms; table, CSV and PNG plots.")]
    public sealed class AnalyzeVerb : DeviceVerb, IBatchesOption, IBatchOption
    {
        [Option("checkpoint", Required = true, Min = 1, HelpText = "One or more run directories or checkpoints/step-* directories (several: one plot).")]
        public IEnumerable<string> Checkpoints { get; set; } = Array.Empty<string>();

        [Option("model", HelpText = "Model class name (default: the one recorded in each checkpoint).")]
        public string? Model { get; set; }

        [Option("out", HelpText = "Directory for the CSV files and plots (default: analysis/ in the first run directory).")]
        public string? Out { get; set; }

        public int? Batches { get; set; }
        public int? Batch { get; set; }

        public override object[] Records() => new object[] { new AnalyzeOptions() };

        public override int Run()
        {
            var result = CheckpointAnalysis.Run(Checkpoints.ToList(), Model, Settings.Apply(this, new AnalyzeOptions()),
                report => Console.WriteLine(LayerAnalysis.Table(report)), Console.Error.WriteLine);
            foreach (var file in result.Files)
                Console.WriteLine($"wrote {file}");
            return 0;
        }
    }
}
