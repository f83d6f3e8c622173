using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using LnsDsl.Analysis;

namespace LnsDsl.Runs
{
    /// <summary>
    /// A layer report's two CSV files, written and read here only: <c>layers-NAME.csv</c> (a row per block: output
    /// variance, angular distance, loss without the block, removal drop, gradient norm; row 0 the embedding) and
    /// <c>angular-heatmap-NAME.csv</c> (row l, column n: the distance between h_l and h_(l+n)). Read by header name.
    /// </summary>
    public static class LayerReportFiles
    {
        private static readonly CultureInfo C = CultureInfo.InvariantCulture;

        public const string Block = "block", Variance = "output_variance", Angular = "angular_distance",
            LossWithout = "loss_without_block", Drop = "removal_drop", GradNorm = "grad_norm";

        /// <summary>The file-name part for a report's label.</summary>
        public static string NameOf(string label) => string.Concat(label.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' ? ch : '_'));

        public static string LayersFile(string directory, string label) => Path.Combine(directory, $"layers-{NameOf(label)}.csv");

        public static string HeatmapFile(string directory, string label) => Path.Combine(directory, $"angular-heatmap-{NameOf(label)}.csv");

        /// <summary>Writes both files of <paramref name="r"/> into <paramref name="directory"/>; returns their paths.</summary>
        public static IReadOnlyList<string> Write(LayerReport r, string directory)
        {
            var csv = new StringBuilder(string.Join(",", Block, Variance, Angular, LossWithout, Drop, GradNorm) + "\n");
            csv.AppendLine(string.Format(C, "0,{0:R},,,,", r.Variance[0]));
            for (int l = 1; l <= r.Layers; l++)
                csv.AppendLine(string.Format(C, "{0},{1:R},{2:R},{3:R},{4:R},{5:R}", l, r.Variance[l], r.AngularDistance[l - 1], r.RemovalLoss[l - 1], r.RemovalDrop[l - 1], r.GradientNorm[l - 1]));
            string layers = LayersFile(directory, r.Label);
            AtomicFile.WriteAllText(layers, csv.ToString());
            var heat = new StringBuilder("l," + string.Join(",", Enumerable.Range(1, r.Layers).Select(n => "n" + n)) + "\n");
            for (int l = 0; l < r.Layers; l++)
                heat.AppendLine(l + "," + string.Join(",", r.AngularHeatmap[l].Select(v => double.IsNaN(v) ? "" : v.ToString("R", C))));
            string heatmap = HeatmapFile(directory, r.Label);
            AtomicFile.WriteAllText(heatmap, heat.ToString());
            return new[] { layers, heatmap };
        }

        /// <summary>
        /// A report read back from its two files (e.g. to redraw plots elsewhere). The loss of the full model is
        /// recovered as the first block's loss without it minus its drop.
        /// </summary>
        public static LayerReport Read(string layersCsv, string heatmapCsv, string label)
        {
            var (header, rows) = ReadCsv(layersCsv);
            int Column(string name) => Array.IndexOf(header, name) is var i and >= 0 ? i
                : throw new UserError($"'{layersCsv}' has no column '{name}' (columns: {string.Join(", ", header)})");
            int block = Column(Block), variance = Column(Variance), angular = Column(Angular), without = Column(LossWithout), drop = Column(Drop), grad = Column(GradNorm);
            var blocks = rows.Where(r => Parse(r[block]) >= 1).OrderBy(r => Parse(r[block])).ToList();
            var all = rows.OrderBy(r => Parse(r[block])).ToList();
            var (heatHeader, heatRows) = ReadCsv(heatmapCsv);
            var columns = Enumerable.Range(1, blocks.Count).Select(n => Array.IndexOf(heatHeader, "n" + n)).ToArray();
            if (columns.Any(i => i < 0)) throw new UserError($"'{heatmapCsv}' lacks columns n1..n{blocks.Count}");
            return new LayerReport
            {
                Label = label,
                Model = label.Split(' ')[0],
                Layers = blocks.Count,
                Loss = blocks.Count > 0 ? Parse(blocks[0][without]) - Parse(blocks[0][drop]) : double.NaN,
                Variance = all.Select(r => Parse(r[variance])).ToArray(),
                AngularDistance = blocks.Select(r => Parse(r[angular])).ToArray(),
                RemovalLoss = blocks.Select(r => Parse(r[without])).ToArray(),
                GradientNorm = blocks.Select(r => Parse(r[grad])).ToArray(),
                AngularHeatmap = heatRows.Select(r => columns.Select(i => i < r.Length ? Parse(r[i]) : double.NaN).ToArray()).ToArray(),
            };
        }

        private static double Parse(string v) => v.Length == 0 ? double.NaN : double.Parse(v, C);

        private static (string[] Header, List<string[]> Rows) ReadCsv(string path)
        {
            if (!File.Exists(path)) throw new UserError($"'{path}' does not exist");
            var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
            if (lines.Count == 0) throw new UserError($"'{path}' is empty");
            var header = lines[0].Split(',');
            var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
            if (rows.Any(r => r.Length != header.Length)) throw new UserError($"'{path}' has rows of another width than its header");
            return (header, rows);
        }
    }
}
