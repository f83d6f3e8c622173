using System;
using System.IO;
using System.Linq;
using LnsDsl.Analysis;
using LnsDsl.Runs;
using LnsDsl.Tests.Models;
using Xunit;

namespace LnsDsl.Tests
{
    /// <summary>What a checkpoint compares, and the run directory's files as their one owner reads them.</summary>
    public sealed class RunRecordTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-runs-" + Guid.NewGuid().ToString("N"));

        public RunRecordTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Fact]
        public void Architectures_are_compared_field_by_field_names_and_labels_aside()
        {
            var spec = TinyLns.Architecture;
            Assert.Empty(ArchitectureComparison.Differences(spec, spec with { Name = "Renamed", FullName = "Lab.Renamed" }));
            Assert.Equal(new[] { "RopeTheta: 10000 (saved) vs 1000000 (model)" }, ArchitectureComparison.Differences(spec, spec with { RopeTheta = 1e6 }));
            Assert.Equal(new[] { "Activation: SwiGlu (saved) vs Gelu (model)" }, ArchitectureComparison.Differences(spec, spec with { Activation = Activation.Gelu }));
            Assert.Single(ArchitectureComparison.Differences(spec, spec with { Eps = 1e-5 }), d => d.StartsWith("Eps:"));
            Assert.Single(ArchitectureComparison.Differences(spec, spec with { Alpha = 2 }), d => d.StartsWith("Alpha:"));
            Assert.Single(ArchitectureComparison.Differences(spec, spec with { Std = 0.01 }), d => d.StartsWith("Std:"));
            // A per-block fact: LNS's factor of block 3 (1/sqrt(3)) against Pre-LN's 1.
            var blocks = spec.Blocks.ToList();
            blocks[2] = blocks[2] with { NormScale = 1.0 };
            Assert.Equal(new[] { $"Blocks[3].NormScale: {1 / Math.Sqrt(3):R} (saved) vs 1 (model)" }, ArchitectureComparison.Differences(spec, spec with { Blocks = blocks }));
        }

        [Fact]
        public void A_resumed_runs_data_is_compared_field_by_field()
        {
            var saved = new DataIdentity("corpus", "abc", "cl100k compacted to 8192", 8192, "k1");
            Assert.Empty(saved.Differences(saved));
            Assert.Equal(new[] { "Tokenizer: cl100k compacted to 8192 (saved) vs bytes (now)", "VocabSize: 8192 (saved) vs 257 (now)" },
                saved.Differences(saved with { Tokenizer = "bytes", VocabSize = 257, CacheKey = "k2" }));
            Assert.Equal(new[] { "CorpusFingerprint: abc (saved) vs abd (now)" }, saved.Differences(saved with { CorpusFingerprint = "abd", CacheKey = "k3" }));
            Assert.Equal(new[] { "CacheKey: k1 (saved) vs k4 (now)" }, saved.Differences(saved with { CacheKey = "k4" })); // e.g. another cache format
        }

        [Fact]
        public void A_spec_survives_the_checkpoint_json_exactly()
        {
            var spec = TinyDeepNorm.Architecture;
            string json = System.Text.Json.JsonSerializer.Serialize(Checkpoint.For(spec), RunDirectory.Json);
            var back = System.Text.Json.JsonSerializer.Deserialize<CheckpointState>(json, RunDirectory.Json)!;
            Assert.Empty(ArchitectureComparison.Differences(back.Spec!, spec));
            Assert.Equal(Checkpoint.CurrentFormat, back.Format);
        }

        [Fact]
        public void A_spec_with_the_imported_vocabulary_survives_the_json_and_an_earlier_spec_still_reads()
        {
            var spec = TinyGemma2Like.Architecture;
            string json = System.Text.Json.JsonSerializer.Serialize(Checkpoint.For(spec), RunDirectory.Json);
            var back = System.Text.Json.JsonSerializer.Deserialize<CheckpointState>(json, RunDirectory.Json)!;
            Assert.Empty(ArchitectureComparison.Differences(back.Spec!, spec));
            Assert.Contains("SoftCap: 2 (saved) vs 0 (model)", ArchitectureComparison.Differences(spec, spec with { SoftCap = 0 }));

            // A checkpoint written before these fields existed has none of them: they read as "off" and compare equal.
            var node = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(Checkpoint.For(TinyLns.Architecture), RunDirectory.Json))!;
            var specNode = node.AsObject().First(p => p.Key.Equals("Spec", StringComparison.OrdinalIgnoreCase)).Value!.AsObject();
            foreach (string name in new[] { "ScaleEmbeddings", "LogitSoftCap", "QkNormScope", "QkvBias", "OutputBias", "MlpBias", "SoftCap", "QueryScaleDim",
                         "RopeScaling", "RopeFactor", "RopeLowFreqFactor", "RopeHighFreqFactor", "RopeOriginalMaxSeq" })
            {
                var key = specNode.Select(p => p.Key).Single(k => k.Equals(name, StringComparison.OrdinalIgnoreCase));
                specNode.Remove(key);
            }
            var old = System.Text.Json.JsonSerializer.Deserialize<CheckpointState>(node.ToJsonString(), RunDirectory.Json)!;
            Assert.Empty(ArchitectureComparison.Differences(old.Spec!, TinyLns.Architecture));
        }

        [Fact]
        public void Layer_report_files_are_read_by_header_name()
        {
            var report = new LayerReport
            {
                Label = "tiny", Model = "tiny", Layers = 2, Tokens = 10, Loss = 2.5,
                Variance = new[] { 1.0, 2.0, 3.0 }, AngularDistance = new[] { 0.1, 0.2 }, RemovalLoss = new[] { 2.75, 3.0 }, GradientNorm = new[] { 0.5, 0.25 },
                AngularHeatmap = new[] { new[] { 0.1, 0.3 }, new[] { 0.2, double.NaN } },
            };
            LayerReportFiles.Write(report, _dir);
            string layers = LayerReportFiles.LayersFile(_dir, "tiny");
            // Columns in another order (as a spreadsheet might save them): the same report.
            var lines = File.ReadAllLines(layers).Select(l => l.Split(',')).Select(c => string.Join(",", c.Reverse())).ToArray();
            File.WriteAllLines(layers, lines);
            var read = LayerReportFiles.Read(layers, LayerReportFiles.HeatmapFile(_dir, "tiny"), "tiny");
            Assert.Equal(report.Variance, read.Variance);
            Assert.Equal(report.AngularDistance, read.AngularDistance);
            Assert.Equal(report.RemovalLoss, read.RemovalLoss);
            Assert.Equal(report.GradientNorm, read.GradientNorm);
            Assert.Equal(report.Loss, read.Loss, 12);
            Assert.Equal(0.3, read.AngularHeatmap[0][1]);
            Assert.True(double.IsNaN(read.AngularHeatmap[1][1]));
            File.WriteAllText(layers, "block,output_variance\n0,1\n");
            Assert.Contains("no column 'angular_distance'", Assert.Throws<UserError>(() => LayerReportFiles.Read(layers, LayerReportFiles.HeatmapFile(_dir, "tiny"), "tiny")).Message);
        }
    }
}
