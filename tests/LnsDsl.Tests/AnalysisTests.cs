using System;
using System.IO;
using System.Linq;
using LnsDsl.Tests.Models;
using LnsDsl.Analysis;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Experiments;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>The layer metrics against hand-computed values, and the analysis against the model's own hooks.</summary>
    public sealed class AnalysisTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-analysis-" + Guid.NewGuid().ToString("N"));

        public AnalysisTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Fact]
        public void Angular_distance_is_0_for_equal_05_for_orthogonal_and_1_for_opposite_directions()
        {
            var a = tensor(new float[] { 1, 0, 0, 2, 2, 0 }).reshape(1, 2, 3);        // two tokens
            Assert.Equal(0, Metrics.AngularDistance(a, a), 7); // arccos near 1 amplifies the last bit of cos
            Assert.Equal(0, Metrics.AngularDistance(a, a * 3), 7);                  // scale does not matter
            var orthogonal = tensor(new float[] { 0, 5, 0, 0, 0, 1 }).reshape(1, 2, 3);
            Assert.Equal(0.5, Metrics.AngularDistance(a, orthogonal), 12);
            Assert.Equal(1, Metrics.AngularDistance(a, -a), 7);
            // 60 degrees on one token, 90 on the other: (1/3 + 1/2) / 2.
            var mixed = tensor(new float[] { 0.5f, (float)Math.Sqrt(0.75), 0, 0, 0, 1 }).reshape(1, 2, 3);
            Assert.Equal((1.0 / 3 + 0.5) / 2, Metrics.AngularDistance(a, mixed), 6);
        }

        [Fact]
        public void Variance_is_over_tokens_and_channels_without_bessel_correction()
        {
            Assert.Equal(1.25, Metrics.Variance(tensor(new float[] { 1, 2, 3, 4 }).reshape(1, 2, 2)), 12);
        }

        [Fact]
        public void The_report_agrees_with_the_models_hidden_states_and_block_skipping()
        {
            string path = Path.Combine(_dir, "valid.lnstok");
            var random = new Random(3);
            TokenStream.Write(path, Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, 40).Select(_ => random.Next(60)).ToArray()).ToList(), 60, 61);
            using var valid = TokenStream.Open(path);
            using var model = new TinyLns(1);
            Reference.Randomize(model, 2);
            var report = LayerAnalysis.Run(model, valid, Packing.Pack, batches: 1, batch: 2, seq: 16, endOfText: 60, CPU, "tiny");

            var (x, y) = Batches.Fixed(valid, Packing.Pack, 0, 2, 16, 60);
            using var noGrad = no_grad();
            using var full = model.Forward(x, collectHiddenStates: true);
            Assert.Equal(5, report.Variance.Length);
            for (int l = 0; l <= 4; l++)
                Assert.Equal(Metrics.Variance(full.HiddenStates[l]), report.Variance[l], 6);
            for (int l = 1; l <= 4; l++)
                Assert.Equal(Metrics.AngularDistance(full.HiddenStates[l - 1], full.HiddenStates[l]), report.AngularDistance[l - 1], 9);
            Assert.Equal(Metrics.AngularDistance(full.HiddenStates[1], full.HiddenStates[4]), report.AngularHeatmap[1][2], 9);
            Assert.True(double.IsNaN(report.AngularHeatmap[3][1]));
            double Loss(Tensor logits) => nn.functional.cross_entropy(logits.reshape(-1, 61), y.reshape(-1)).item<float>();
            Assert.Equal(Loss(full.Logits), report.Loss, 5);
            using var without3 = model.Forward(x, skipBlocks: new[] { 3 });
            Assert.Equal(Loss(without3.Logits), report.RemovalLoss[2], 5);
            Assert.Equal(report.RemovalLoss[2] - report.Loss, report.RemovalDrop[2], 12);
            Assert.All(report.GradientNorm, g => Assert.True(g > 0 && double.IsFinite(g)));

            var again = LayerAnalysis.Run(model, valid, Packing.Pack, 1, 2, 16, 60, CPU, "tiny");
            Assert.Equal(report.Variance, again.Variance);
            Assert.Equal(report.RemovalLoss, again.RemovalLoss);

            // The CSV files hold the whole report: read back, it is the same (plots can be redrawn elsewhere).
            string plots = Path.Combine(_dir, "plots");
            Plots.Write(new[] { report }, plots, new string?[] { null });
            var read = LayerReportFiles.Read(LayerReportFiles.LayersFile(plots, "tiny"), LayerReportFiles.HeatmapFile(plots, "tiny"), "tiny");
            Assert.Equal(report.Variance, read.Variance);
            Assert.Equal(report.AngularDistance, read.AngularDistance);
            Assert.Equal(report.RemovalLoss, read.RemovalLoss);
            Assert.Equal(report.GradientNorm, read.GradientNorm);
            Assert.Equal(report.Loss, read.Loss, 9);
            Assert.Equal(report.AngularHeatmap[1][2], read.AngularHeatmap[1][2]);
            Assert.True(double.IsNaN(read.AngularHeatmap[3][1]));
        }
    }
}
