using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Runs;

namespace LnsDsl.Analysis
{
    /// <summary>The layer-wise metrics (docs/METHOD.md, "Layer analysis"), on tensors.</summary>
    public static class Metrics
    {
        /// <summary>Population variance over every element (tokens and channels) of a hidden state.</summary>
        public static double Variance(Tensor h)
        {
            using var scope = NewDisposeScope();
            var x = h.to(ScalarType.Float64);
            return (x - x.mean()).square().mean().item<double>();
        }

        /// <summary>
        /// Mean over tokens of <c>arccos(cos_sim(a, b)) / pi</c> along the last dimension: 0 for equal directions,
        /// 0.5 for orthogonal, 1 for opposite (ShortGPT; "the unreasonable ineffectiveness of the deeper layers").
        /// </summary>
        public static double AngularDistance(Tensor a, Tensor b)
        {
            using var scope = NewDisposeScope();
            var (sum, count) = AngularDistanceSum(a, b);
            return sum / count;
        }

        /// <summary>The sum of the per-token angular distances, and the token count.</summary>
        public static (double Sum, long Count) AngularDistanceSum(Tensor a, Tensor b)
        {
            using var scope = NewDisposeScope();
            var x = a.to(ScalarType.Float64);
            var y = b.to(ScalarType.Float64);
            var cos = (x * y).sum(-1) / (x.norm(-1) * y.norm(-1)).clamp_min(1e-300);
            var d = cos.clamp(-1.0, 1.0).arccos() / Math.PI;
            return (d.sum().item<double>(), d.numel());
        }
    }

    /// <summary>What <see cref="LayerAnalysis.Run"/> measures for one model and checkpoint.</summary>
    public sealed record LayerReport
    {
        public string Label { get; init; } = "";
        public string Model { get; init; } = "";
        public int Layers { get; init; }
        public long Tokens { get; init; }
        /// <summary>Validation loss of the full model.</summary>
        public double Loss { get; init; }
        /// <summary>[L + 1]: index 0 the embedding output, index l the output of block l.</summary>
        public double[] Variance { get; init; } = Array.Empty<double>();
        /// <summary>[L]: angular distance between block l's input and output (n = 1), index l - 1.</summary>
        public double[] AngularDistance { get; init; } = Array.Empty<double>();
        /// <summary>[L][L]: <c>[l][n - 1]</c> = distance between h_l and h_{l+n} (l = 0..L-1, n = 1..L-l; NaN elsewhere).</summary>
        public double[][] AngularHeatmap { get; init; } = Array.Empty<double[]>();
        /// <summary>[L]: validation loss with block l skipped, index l - 1.</summary>
        public double[] RemovalLoss { get; init; } = Array.Empty<double>();
        /// <summary>[L]: RemovalLoss - Loss.</summary>
        public double[] RemovalDrop => RemovalLoss.Select(r => r - Loss).ToArray();
        /// <summary>[L]: global gradient norm of block l's parameters on the first validation batch.</summary>
        public double[] GradientNorm { get; init; } = Array.Empty<double>();

        /// <summary>Removal-drop uniformity: the smallest drop over the mean drop (1: perfectly uniform).</summary>
        public double RemovalUniformity => RemovalDrop.Average() is var mean && mean > 0 ? RemovalDrop.Min() / mean : double.NaN;
    }

    /// <summary>Layer-wise variance, angular distance, removal drop and gradient norms on fixed validation batches.</summary>
    public static class LayerAnalysis
    {
        /// <param name="lastToken">Angular distances at each sequence's last (non-padding) token only, as the paper's script
        /// measures them, instead of averaged over every token.</param>
        /// <param name="gradients">Also measure each block's gradient norm (a backward pass: the memory of the gradients).</param>
        public static LayerReport Run(TransformerModule model, TokenStream valid, Packing packing, int batches, int batch, int seq, int endOfText, Device device, string label,
            bool lastToken = false, bool gradients = true)
        {
            int L = model.Spec.Layers, vocab = model.Spec.Vocab;
            int available = Batches.FixedCount(valid, packing, batch, seq);
            if (available == 0) throw new SettingError($"the validation split is too small for {batch} x {seq}; use a smaller {{Batch}} or {{Seq}}");
            int n = Math.Max(1, Math.Min(batches, available));
            var sum = new double[L + 1];
            var sumSq = new double[L + 1];
            long elements = 0;
            var angular = new double[L + 1, L + 1];
            long tokens = 0, measured = 0; // every token; the tokens angular distances are taken at
            double loss = 0;
            long targets = 0;
            var removal = new double[L];
            model.eval();
            using (no_grad())
            {
                for (int i = 0; i < n; i++)
                {
                    using var scope = NewDisposeScope();
                    var (x, y) = Batches.Fixed(valid, packing, i, batch, seq, endOfText);
                    x = x.to(device);
                    var flat = y.to(device).reshape(-1);
                    using var full = model.Forward(x, collectHiddenStates: true);
                    var states = full.HiddenStates;
                    // The positions angular distances are taken at: every token, or each row's last non-padding one.
                    var at = lastToken ? LastPositions(y.to(device)) : null;
                    for (int l = 0; l <= L; l++)
                    {
                        var h = states[l].to(ScalarType.Float64);
                        sum[l] += h.sum().item<double>();
                        sumSq[l] += h.square().sum().item<double>();
                        for (int m = l + 1; m <= L; m++)
                            angular[l, m] += at is null ? Metrics.AngularDistanceSum(states[l], states[m]).Sum
                                : Metrics.AngularDistanceSum(Gather(states[l], at), Gather(states[m], at)).Sum;
                    }
                    elements += states[0].numel();
                    tokens += states[0].numel() / states[0].shape[^1];
                    measured += at is null ? states[0].numel() / states[0].shape[^1] : at.shape[0];
                    loss += Losses.SumLoss(full.Logits, flat, vocab);
                    targets += flat.ne(Batches.Ignore).sum().item<long>();
                    for (int l = 1; l <= L; l++)
                    {
                        using var skipped = model.Forward(x, skipBlocks: new[] { l });
                        removal[l - 1] += Losses.SumLoss(skipped.Logits, flat, vocab);
                    }
                }
            }

            // Gradient norms per block on the first batch.
            var gradientNorms = new double[L];
            if (!gradients) Array.Fill(gradientNorms, double.NaN);
            else
            {
                using var scope = NewDisposeScope();
                using var grad = enable_grad(); // also when the caller runs under no_grad
                model.zero_grad();
                var (x, y) = Batches.Fixed(valid, packing, 0, batch, seq, endOfText);
                Losses.Loss(model, x.to(device), y.to(device), vocab).backward();
                foreach (var (name, p) in model.named_parameters())
                {
                    int block = TransformerModule.LayerIndexOf(name);
                    if (block < 0 || p.grad is null) continue;
                    gradientNorms[block] += p.grad.to(ScalarType.Float64).square().sum().item<double>();
                }
                model.zero_grad();
            }

            var heatmap = new double[L][];
            for (int l = 0; l < L; l++)
            {
                heatmap[l] = new double[L];
                for (int k = 1; k <= L; k++) heatmap[l][k - 1] = l + k <= L ? angular[l, l + k] / measured : double.NaN;
            }
            return new LayerReport
            {
                Label = label,
                Model = model.Spec.Name,
                Layers = L,
                Tokens = tokens,
                Loss = loss / targets,
                Variance = Enumerable.Range(0, L + 1).Select(l => sumSq[l] / elements - Math.Pow(sum[l] / elements, 2)).ToArray(),
                AngularDistance = Enumerable.Range(1, L).Select(l => angular[l - 1, l] / measured).ToArray(),
                AngularHeatmap = heatmap,
                RemovalLoss = removal.Select(r => r / targets).ToArray(),
                GradientNorm = gradientNorms.Select(Math.Sqrt).ToArray(),
            };
        }

        /// <summary>Each row's last position whose target is not padding, <c>[B]</c>.</summary>
        private static Tensor LastPositions(Tensor targets)
        {
            var valid = targets.ne(Batches.Ignore).to(ScalarType.Int64);
            return (valid.sum(1) - 1).clamp_min(0);
        }

        /// <summary><c>h[b, at[b], :]</c> for each row b: <c>[B, 1, D]</c>.</summary>
        private static Tensor Gather(Tensor h, Tensor at)
            => h.gather(1, at.view(-1, 1, 1).expand(-1, 1, h.shape[^1]));

        /// <summary>Analyses <paramref name="trained"/> on its validation data (its data settings, with the options' overrides).</summary>
        public static LayerReport Analyze(TrainedModel trained, AnalyzeOptions options, Action<string>? log = null)
        {
            if (options.Batches < 1 || options.Batch < 1) throw new SettingError("{Batches} and {Batch} must be at least 1");
            trained.UseData(options.Data, options.Seq, options.Packing);
            var device = trained.Model.parameters().First().device;
            using var data = trained.OpenData(log);
            var o = trained.Options;
            return Run(trained.Model, data.Valid, o.Packing, options.Batches, options.Batch, o.Seq, data.Tokenizer.EndOfText, device, trained.Label, options.LastToken, !options.SkipGradients);
        }

        /// <summary>The report as a text table: a row per block.</summary>
        public static string Table(LayerReport r)
        {
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0}: validation loss {1:F4} (perplexity {2:F2}) on {3:N0} tokens; removal-drop uniformity (min/mean) {4:F3}",
                r.Label, r.Loss, Math.Exp(r.Loss), r.Tokens, r.RemovalUniformity));
            sb.AppendLine("block   output variance   angular dist (in->out)   loss without block   drop       ppl without   grad norm");
            sb.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,5}   {1,15:G5}", "embed", r.Variance[0]));
            for (int l = 1; l <= r.Layers; l++)
                sb.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,5}   {1,15:G5}   {2,22:F4}   {3,18:F4}   {4,8:+0.0000;-0.0000}   {5,11:F2}   {6,9}",
                    l, r.Variance[l], r.AngularDistance[l - 1], r.RemovalLoss[l - 1], r.RemovalDrop[l - 1], Math.Exp(r.RemovalLoss[l - 1]),
                    double.IsNaN(r.GradientNorm[l - 1]) ? "-" : r.GradientNorm[l - 1].ToString("G4", CultureInfo.InvariantCulture)));
            return sb.ToString();
        }
    }
}
