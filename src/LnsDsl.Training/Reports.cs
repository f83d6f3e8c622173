using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace LnsDsl.Training
{
    /// <summary>Tables, CSV files and PNG plots (ScottPlot) of layer reports; several runs share each plot.</summary>
    public static class Reports
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        public static string Table(LayerReport r)
        {
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(C, "{0}: validation loss {1:F4} (perplexity {2:F2}) on {3:N0} tokens; removal-drop uniformity (min/mean) {4:F3}",
                r.Label, r.Loss, Math.Exp(r.Loss), r.Tokens, r.RemovalUniformity));
            sb.AppendLine("block   output variance   angular dist (in->out)   loss without block   drop       grad norm");
            sb.AppendLine(string.Format(C, "{0,5}   {1,15:G5}", "embed", r.Variance[0]));
            for (int l = 1; l <= r.Layers; l++)
                sb.AppendLine(string.Format(C, "{0,5}   {1,15:G5}   {2,22:F4}   {3,18:F4}   {4,8:+0.0000;-0.0000}   {5,9:G4}",
                    l, r.Variance[l], r.AngularDistance[l - 1], r.RemovalLoss[l - 1], r.RemovalDrop[l - 1], r.GradientNorm[l - 1]));
            return sb.ToString();
        }

        /// <summary>
        /// A report read back from the two CSV files <see cref="Write"/> wrote for it (<c>layers-*.csv</c>,
        /// <c>angular-heatmap-*.csv</c>), e.g. to redraw plots elsewhere. The loss of the full model is recovered from
        /// the first block's loss without it minus its drop.
        /// </summary>
        public static LayerReport ReadCsv(string layersCsv, string heatmapCsv, string label)
        {
            static double Parse(string v) => v.Length == 0 ? double.NaN : double.Parse(v, C);
            var rows = File.ReadAllLines(layersCsv).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList();
            var blocks = rows.Skip(1).ToList();
            var heat = File.ReadAllLines(heatmapCsv).Skip(1).Where(l => l.Length > 0)
                .Select(l => l.Split(',').Skip(1).Select(Parse).ToArray()).ToArray();
            return new LayerReport
            {
                Label = label,
                Model = label.Split(' ')[0],
                Layers = blocks.Count,
                Loss = Parse(blocks[0][3]) - Parse(blocks[0][4]),
                Variance = rows.Select(r => Parse(r[1])).ToArray(),
                AngularDistance = blocks.Select(r => Parse(r[2])).ToArray(),
                RemovalLoss = blocks.Select(r => Parse(r[3])).ToArray(),
                GradientNorm = blocks.Select(r => Parse(r[5])).ToArray(),
                AngularHeatmap = heat.Select(r => r.Length >= blocks.Count ? r : r.Concat(Enumerable.Repeat(double.NaN, blocks.Count - r.Length)).ToArray()).ToArray(),
            };
        }

        /// <summary>Writes CSV files and plots for the reports into <paramref name="directory"/>; returns the files written.</summary>
        public static IReadOnlyList<string> Write(IReadOnlyList<LayerReport> reports, string directory, IReadOnlyList<string?> runDirectories)
        {
            Directory.CreateDirectory(directory);
            if (SkiaSharp.SKFontManager.Default.FontFamilyCount == 0)
                Console.Error.WriteLine("warning: no fonts are installed, so the plots will have no text (titles, axes, legends); install one (e.g. apt install fonts-dejavu-core) and run the analysis again");
            var files = new List<string>();
            foreach (var r in reports)
            {
                string name = Safe(r.Label);
                var csv = new StringBuilder("block,output_variance,angular_distance,loss_without_block,removal_drop,grad_norm\n");
                csv.AppendLine(string.Format(C, "0,{0:R},,,,", r.Variance[0]));
                for (int l = 1; l <= r.Layers; l++)
                    csv.AppendLine(string.Format(C, "{0},{1:R},{2:R},{3:R},{4:R},{5:R}", l, r.Variance[l], r.AngularDistance[l - 1], r.RemovalLoss[l - 1], r.RemovalDrop[l - 1], r.GradientNorm[l - 1]));
                files.Add(Save(Path.Combine(directory, $"layers-{name}.csv"), csv.ToString()));
                var heat = new StringBuilder("l," + string.Join(",", Enumerable.Range(1, r.Layers).Select(n => "n" + n)) + "\n");
                for (int l = 0; l < r.Layers; l++)
                    heat.AppendLine(l + "," + string.Join(",", r.AngularHeatmap[l].Select(v => double.IsNaN(v) ? "" : v.ToString("R", C))));
                files.Add(Save(Path.Combine(directory, $"angular-heatmap-{name}.csv"), heat.ToString()));
                files.Add(Heatmap(r, Path.Combine(directory, $"angular-heatmap-{name}.png")));
            }
            files.Add(Lines(reports, r => r.Variance, 0, "Output variance of the residual stream", "block l (0: embedding)", "variance", Path.Combine(directory, "variance.png"), logY: true));
            files.Add(Lines(reports, r => r.AngularDistance, 1, "Angular distance between block input and output", "block l", "arccos(cos) / pi", Path.Combine(directory, "angular.png")));
            files.Add(Lines(reports, r => r.RemovalDrop, 1, "Validation loss increase when block l is removed", "block l", "loss drop", Path.Combine(directory, "removal.png")));
            files.Add(Lines(reports, r => r.GradientNorm, 1, "Gradient norm per block", "block l", "||grad||", Path.Combine(directory, "grad-norm.png"), logY: true));
            var curves = reports.Zip(runDirectories).Select(p => (p.First.Label, Path: p.Second is null ? null : Path.Combine(p.Second, "metrics.jsonl")))
                .Where(p => p.Path is not null && File.Exists(p.Path)).ToList();
            if (curves.Count > 0) files.Add(TrainingCurves(curves!, Path.Combine(directory, "training.png")));
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

        private static string TrainingCurves(IReadOnlyList<(string Label, string Path)> runs, string path)
        {
            var plot = new ScottPlot.Plot();
            foreach (var (label, metrics) in runs)
            {
                var rows = File.ReadLines(metrics).Select(l => JsonDocument.Parse(l).RootElement).ToList();
                var line = plot.Add.Scatter(rows.Select(r => (double)r.GetProperty("step").GetInt32()).ToArray(), rows.Select(r => r.GetProperty("loss").GetDouble()).ToArray());
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

        private static string Save(string path, string text)
        {
            AtomicFile.WriteAllText(path, text);
            return path;
        }

        private static string Safe(string label) => string.Concat(label.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' ? ch : '_'));
    }
}
