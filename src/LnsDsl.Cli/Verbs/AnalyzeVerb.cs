using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using CommandLine;
using LnsDsl.Analysis;
using LnsDsl.Cli.Options;
using LnsDsl.Experiments;
using LnsDsl.Runs;

namespace LnsDsl.Cli.Verbs
{
    [Verb("analyze", HelpText = "Layer analysis of checkpoints: output variance, angular distance (curve and heatmap), layer-removal drop, gradient norms; table, CSV and PNG plots.")]
    public sealed class AnalyzeVerb : Verb, IDeviceOptions, IBatchesOption, IBatchOption
    {
        [Option("checkpoint", Required = true, Min = 1, HelpText = "One or more run directories or checkpoints/step-* directories (several: one plot).")]
        public IEnumerable<string> Checkpoints { get; set; } = Array.Empty<string>();

        [Option("model", HelpText = "Model class name (default: the one recorded in each checkpoint).")]
        public string? Model { get; set; }

        [Option("out", HelpText = "Directory for the CSV files and plots (default: analysis/ in the first run directory).")]
        public string? Out { get; set; }

        public string? Device { get; set; }
        public string? Dtype { get; set; }
        public int? Threads { get; set; }
        public int? Batches { get; set; }
        public int? Batch { get; set; }

        public override object[] Records() => new object[] { new AnalyzeOptions() };

        public override int Run()
        {
            var options = Settings.Apply(this, new AnalyzeOptions());
            var reports = new List<LayerReport>();
            var runs = new List<string?>();
            foreach (var path in Checkpoints)
            {
                var report = LayerAnalysis.Checkpoint(path, Model, options, Console.Error.WriteLine);
                Console.WriteLine(LayerAnalysis.Table(report));
                reports.Add(report);
                runs.Add(RunDirectory.OfCheckpoint(Checkpoint.Resolve(path)).Path);
            }
            string output = options.Out ?? new RunDirectory(runs[0]!).AnalysisDirectory;
            foreach (var file in Plots.Write(reports, output, runs))
                Console.WriteLine($"wrote {file}");
            return 0;
        }
    }
}
