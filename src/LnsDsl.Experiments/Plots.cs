using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using LnsDsl.Analysis;
using LnsDsl.Runs;

namespace LnsDsl.Experiments
{
    /// <summary>PNG plots (ScottPlot) of layer reports and training curves, with the reports' CSV files; several runs share each plot.</summary>
    public static class Plots
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        /// <summary>Writes CSV files and plots for the reports into <paramref name="directory"/>; returns the files written.</summary>
        public static IReadOnlyList<string> Write(IReadOnlyList<LayerReport> reports, string directory, IReadOnlyList<string?> runDirectories)
        {
            Directory.CreateDirectory(directory);
            if (SkiaSharp.SKFontManager.Default.FontFamilyCount == 0)
                Console.Error.WriteLine("warning: no fonts are installed, so the plots will have no text (titles, axes, legends); install one (e.g. apt install fonts-dejavu-core) and run the analysis again");
            var files = new List<string>();
            foreach (var r in reports)
            {
                files.AddRange(LayerReportFiles.Write(r, directory));
                files.Add(Heatmap(r, Path.Combine(directory, $"angular-heatmap-{LayerReportFiles.NameOf(r.Label)}.png")));
            }
            files.Add(Lines(reports, r => r.Variance, 0, "Output variance of the residual stream", "block l (0: embedding)", "variance", Path.Combine(directory, "variance.png"), logY: true));
            files.Add(Lines(reports, r => r.AngularDistance, 1, "Angular distance between block input and output", "block l", "arccos(cos) / pi", Path.Combine(directory, "angular.png")));
            files.Add(Lines(reports, r => r.RemovalDrop, 1, "Validation loss increase when block l is removed", "block l", "loss drop", Path.Combine(directory, "removal.png")));
            files.Add(Lines(reports, r => r.GradientNorm, 1, "Gradient norm per block", "block l", "||grad||", Path.Combine(directory, "grad-norm.png"), logY: true));
            var curves = reports.Zip(runDirectories).Where(p => p.Second is not null)
                .Select(p => (p.First.Label, Steps: new RunDirectory(p.Second!).ReadSteps())).Where(p => p.Steps.Count > 0).ToList();
            if (curves.Count > 0) files.Add(TrainingCurves(curves, Path.Combine(directory, "training.png")));
            return files;
        }

        private static string Lines(IReadOnlyList<LayerReport> reports, Func<LayerReport, double[]> values, int firstX, string title, string x, string y, string path, bool logY = false)
        {
            var plot = new ScottPlot.Plot();
            foreach (var r in reports)
            {
                var ys = values(r);
                var xs = Enumerable.Range(firstX, ys.Length).Select(i => (double)i).ToArray();
                var plotted = logY ? ys.Select(v => Math.Log10(Math.Max(v, 1e-12))).ToArray() : ys;
                var line = plot.Add.Scatter(xs, plotted);
                line.LegendText = r.Label;
            }
            if (logY)
            {
                var ticks = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => Math.Pow(10, v).ToString("G3", C), MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator() };
                plot.Axes.Left.TickGenerator = ticks;
                y += " (log scale)";
            }
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(Math.Max(1, reports.Max(r => r.Layers) / 12));
            plot.Title(title);
            plot.XLabel(x);
            plot.YLabel(y);
            plot.ShowLegend(ScottPlot.Edge.Right); // beside the plot: the curves stay visible
            plot.SavePng(path, 1000, 500);
            return path;
        }

        private static string Heatmap(LayerReport r, string path)
        {
            var data = new double[r.Layers, r.Layers];
            for (int l = 0; l < r.Layers; l++)
                for (int n = 0; n < r.Layers; n++)
                    data[r.Layers - 1 - n, l] = r.AngularHeatmap[l][n]; // rows: n from the top down
            var plot = new ScottPlot.Plot();
            var map = plot.Add.Heatmap(data);
            map.Colormap = new ScottPlot.Colormaps.Viridis();
            map.Extent = new ScottPlot.CoordinateRect(0, Math.Max(1, r.Layers - 1), 1, Math.Max(2, r.Layers)); // the centres of the corner cells: l = 0..L-1, n = 1..L
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(Math.Max(1, r.Layers / 12));
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(Math.Max(1, r.Layers / 12));
            plot.Add.ColorBar(map);
            plot.Title($"Angular distance d(h_l, h_l+n): {r.Label}");
            plot.XLabel("l (0: embedding output)");
            plot.YLabel("n (blocks apart)");
            plot.SavePng(path, 700, 600);
            return path;
        }

        private static string TrainingCurves(IReadOnlyList<(string Label, IReadOnlyList<StepRecord> Steps)> runs, string path)
        {
            var plot = new ScottPlot.Plot();
            foreach (var (label, steps) in runs)
            {
                var line = plot.Add.Scatter(steps.Select(r => (double)r.Step).ToArray(), steps.Select(r => r.Loss).ToArray());
                line.LegendText = label;
                line.MarkerSize = 0;
            }
            plot.Title("Training loss");
            plot.XLabel("step");
            plot.YLabel("loss");
            plot.ShowLegend(ScottPlot.Edge.Right); // beside the plot: the curves stay visible
            plot.SavePng(path, 1000, 500);
            return path;
        }
    }
}
