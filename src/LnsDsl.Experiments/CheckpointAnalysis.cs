using System;
using System.Collections.Generic;
using LnsDsl.Analysis;
using LnsDsl.Runs;

namespace LnsDsl.Experiments
{
    /// <summary>What <see cref="CheckpointAnalysis.Run"/> produced: a report per checkpoint and the files written.</summary>
    public sealed record CheckpointAnalysisResult(IReadOnlyList<LayerReport> Reports, IReadOnlyList<string> Files, string Directory);

    /// <summary>The layer analysis of several checkpoints, with their CSV files and shared plots (<c>lnsrun analyze</c>).</summary>
    public static class CheckpointAnalysis
    {
        /// <param name="checkpoints">Run directories or <c>checkpoints/step-*</c> directories.</param>
        /// <param name="model">Overrides the model each checkpoint records.</param>
        /// <param name="options">Batches, device, and the output directory (default: <c>analysis/</c> in the first run).</param>
        /// <param name="report">Called with each report as soon as it is measured.</param>
        /// <param name="log">Progress messages (data preparation).</param>
        public static CheckpointAnalysisResult Run(IReadOnlyList<string> checkpoints, string? model, AnalyzeOptions options,
            Action<LayerReport>? report = null, Action<string>? log = null)
        {
            if (checkpoints.Count == 0) throw new UserError("give at least one checkpoint to analyse");
            var reports = new List<LayerReport>();
            var runs = new List<string?>();
            foreach (var path in checkpoints)
            {
                var r = LayerAnalysis.Checkpoint(path, model, options, log);
                report?.Invoke(r);
                reports.Add(r);
                runs.Add(RunDirectory.OfCheckpoint(Checkpoint.Resolve(path)).Path);
            }
            string output = options.Out ?? new RunDirectory(runs[0]!).AnalysisDirectory;
            return new CheckpointAnalysisResult(reports, Plots.Write(reports, output, runs), output);
        }
    }
}
