using System;
using System.Collections.Generic;
using System.IO;
using LnsDsl.Analysis;
using LnsDsl.Experiments;
using LnsDsl.Loading;
using LnsDsl.Runs;

namespace LnsDsl.Cli.Verbs
{
    /// <summary>What <see cref="CheckpointAnalysis.Run"/> produced: a report per checkpoint and the files written.</summary>
    public sealed record CheckpointAnalysisResult(IReadOnlyList<LayerReport> Reports, IReadOnlyList<string> Files, string Directory);

    /// <summary>The analyze verb's driver: the layer analysis of several checkpoints of any kind (through <see cref="ModelSources"/>),
    /// with their CSV files and shared plots.</summary>
    public static class CheckpointAnalysis
    {
        /// <param name="checkpoints">Run directories or <c>checkpoints/step-*</c> directories.</param>
        /// <param name="huggingFace">Hugging Face checkpoint directories.</param>
        /// <param name="model">Overrides the model each run's checkpoint records.</param>
        /// <param name="options">Batches, device, data overrides, and the output directory (default: <c>analysis/</c> in the first run or Hugging Face directory).</param>
        /// <param name="tokenizer">The Hugging Face checkpoints' tokenizer (default: each one's own).</param>
        /// <param name="report">Called with each report as soon as it is measured.</param>
        /// <param name="log">Progress messages (data preparation).</param>
        public static CheckpointAnalysisResult Run(IReadOnlyList<string> checkpoints, IReadOnlyList<string> huggingFace, string? model, AnalyzeOptions options,
            string? tokenizer = null, Action<LayerReport>? report = null, Action<string>? log = null)
        {
            if (checkpoints.Count + huggingFace.Count == 0) throw new SettingError("give at least one checkpoint to analyse ({Checkpoints} or {HuggingFace})");
            var reports = new List<LayerReport>();
            var runs = new List<string?>();
            string? first = null;
            void Add(LayerReport r, string? run, string directory)
            {
                report?.Invoke(r);
                reports.Add(r);
                runs.Add(run);
                first ??= directory;
            }
            var device = Devices.Resolve(options.Device);
            foreach (var path in checkpoints)
            {
                using var trained = ModelSources.Open(path, model, device, options.Dtype, null, log); // any kind of checkpoint
                var measured = LayerAnalysis.Analyze(trained, options, log);
                if (trained.Checkpoint is not null)
                {
                    var run = RunDirectory.OfCheckpoint(trained.Checkpoint);
                    Add(measured, run.Path, run.AnalysisDirectory);
                }
                else Add(measured, null, Path.Combine(path, RunDirectory.AnalysisDirectoryName));
            }
            foreach (var directory in huggingFace)
            {
                using var trained = ModelSources.Open(null, directory, null, options.Device, options.Dtype, tokenizer, log);
                Add(LayerAnalysis.Analyze(trained, options, log), null, Path.Combine(directory, RunDirectory.AnalysisDirectoryName));
            }
            string output = options.Out ?? first!;
            return new CheckpointAnalysisResult(reports, Plots.Write(reports, output, runs), output);
        }
    }
}
