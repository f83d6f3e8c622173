using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Deliberate mistakes the reference can make, to show that the numeric tests would catch them.</summary>
    public enum Bug
    {
        None,
        /// <summary>The LNS factor uses a 0-based depth: 1/sqrt(l - 1) (and 1 for the first block).</summary>
        ZeroBasedDepth,
        /// <summary>The final norm is also scaled, by 1/sqrt(L).</summary>
        ScaledFinalNorm,
        /// <summary>Only the attention norm is scaled; the MLP norm is not.</summary>
        OnlyAttentionNormScaled,
        /// <summary>No scaling at all.</summary>
        NoScale,
    }

    /// <summary>The architecture as the test states it, independently of the generator's spec.</summary>
    public sealed record RefConfig(
        Kind Kind, ScaleRule Scale = ScaleRule.None, int PostLayers = 0, NormType NormType = NormType.RmsNorm,
        double Eps = 1e-6, Activation Activation = Activation.SwiGlu, bool Rope = true, double RopeTheta = 10000,
        bool QkNorm = false, bool LayerScale = false, bool Tied = false, double? Alpha = null,
        int Layers = 4, int Hidden = 32, int Heads = 4, int KvHeads = 4, int FeedForward = 48);

    /// <summary>
    /// An unfused, obviously-correct transformer written from the equations of docs/METHOD.md, in float64: separate
    /// q/k/v and gate/up matrices cut from the checkpoint, explicit softmax attention with a causal mask,
    /// rotary embeddings from explicitly computed angles, norm then a separate scale multiply.
    /// </summary>
    public sealed class Reference
    {
        private readonly Dictionary<string, Tensor> _p;
        private readonly RefConfig _c;
        private readonly Bug _bug;

        public Reference(TransformerModule model, RefConfig config, Bug bug = Bug.None)
        {
            _p = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(ScalarType.Float64));
            _c = config;
            _bug = bug;
        }

        private Tensor P(string name) => _p.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"checkpoint has no '{name}'; it has: {string.Join(", ", _p.Keys)}");

        private double Factor(int l)
        {
            if (_bug == Bug.NoScale) return 1;
            int depth = _bug == Bug.ZeroBasedDepth ? Math.Max(1, l - 1) : l;
            return _c.Scale switch
            {
                ScaleRule.InvSqrtDepth => 1 / Math.Sqrt(depth),
                ScaleRule.InvDepth => 1.0 / depth,
                _ => 1,
            };
        }

        private Tensor Norm(Tensor x, string prefix, double scale = 1, NormType? type = null)
        {
            Tensor y;
            if ((type ?? _c.NormType) == NormType.RmsNorm)
            {
                var ms = (x * x).mean(new long[] { -1 }, keepdim: true);
                y = x / (ms + _c.Eps).sqrt() * P(prefix + ".weight");
            }
            else
            {
                var mean = x.mean(new long[] { -1 }, keepdim: true);
                var centered = x - mean;
                var variance = (centered * centered).mean(new long[] { -1 }, keepdim: true);
                y = centered / (variance + _c.Eps).sqrt() * P(prefix + ".weight") + P(prefix + ".bias");
            }
            return y * scale;
        }

        private Tensor Rope(Tensor x) // [B, H, T, D], rotate_half convention
        {
            long t = x.shape[2], d = x.shape[3], half = d / 2;
            var cos = new double[t * d];
            var sin = new double[t * d];
            for (int pos = 0; pos < t; pos++)
                for (int i = 0; i < half; i++)
                {
                    double angle = pos * Math.Pow(_c.RopeTheta, -2.0 * i / d);
                    cos[pos * d + i] = cos[pos * d + i + half] = Math.Cos(angle);
                    sin[pos * d + i] = sin[pos * d + i + half] = Math.Sin(angle);
                }
            var c = tensor(cos, new[] { t, d }, ScalarType.Float64);
            var s = tensor(sin, new[] { t, d }, ScalarType.Float64);
            var x1 = x[.., .., .., ..(int)half];
            var x2 = x[.., .., .., (int)half..];
            var rotated = cat(new[] { -x2, x1 }, -1);
            return x * c + rotated * s;
        }

        private Tensor Attention(Tensor x, string prefix)
        {
            long b = x.shape[0], t = x.shape[1];
            int d = _c.Hidden / _c.Heads, qRows = _c.Heads * d, kvRows = _c.KvHeads * d;
            var w = P(prefix + ".qkv_proj.weight");
            var wq = w[..qRows];
            var wk = w[qRows..(qRows + kvRows)];
            var wv = w[(qRows + kvRows)..];
            var q = x.matmul(wq.t()).view(b, t, _c.Heads, d).transpose(1, 2);
            var k = x.matmul(wk.t()).view(b, t, _c.KvHeads, d).transpose(1, 2);
            var v = x.matmul(wv.t()).view(b, t, _c.KvHeads, d).transpose(1, 2);
            if (_c.QkNorm)
            {
                q = Norm(q, prefix + ".q_norm", type: NormType.RmsNorm);
                k = Norm(k, prefix + ".k_norm", type: NormType.RmsNorm);
            }
            if (_c.Rope)
            {
                q = Rope(q);
                k = Rope(k);
            }
            // Query head h reads key/value head h / (Heads / KvHeads).
            var kvIndex = tensor(Enumerable.Range(0, _c.Heads).Select(h => (long)(h / (_c.Heads / _c.KvHeads))).ToArray());
            k = k.index_select(1, kvIndex);
            v = v.index_select(1, kvIndex);
            var scores = q.matmul(k.transpose(2, 3)) / Math.Sqrt(d);
            var mask = ones(t, t, dtype: ScalarType.Bool).triu(1);
            scores = scores.masked_fill(mask, double.NegativeInfinity);
            var probs = scores.softmax(-1);
            var o = probs.matmul(v).transpose(1, 2).reshape(b, t, qRows);
            return o.matmul(P(prefix + ".o_proj.weight").t());
        }

        private Tensor Mlp(Tensor x, string prefix)
        {
            int f = _c.FeedForward;
            Tensor hidden;
            if (_c.Activation == Activation.SwiGlu)
            {
                var w = P(prefix + ".gate_up_proj.weight");
                var gate = x.matmul(w[..f].t());
                var up = x.matmul(w[f..].t());
                hidden = gate * gate.sigmoid() * up;
            }
            else
            {
                var u = x.matmul(P(prefix + ".up_proj.weight").t());
                hidden = 0.5 * u * (1 + (u / Math.Sqrt(2)).erf());
            }
            return hidden.matmul(P(prefix + ".down_proj.weight").t());
        }

        /// <summary>Logits, and the hidden states (embedding output, then each block's output).</summary>
        public (Tensor Logits, List<Tensor> States) Forward(Tensor tokens, ISet<int>? skip = null)
        {
            var x = P("embed_tokens.weight").index_select(0, tokens.reshape(-1)).view(tokens.shape[0], tokens.shape[1], _c.Hidden);
            if (_c.Kind == Kind.Peri) x = Norm(x, "embed_norm");
            var states = new List<Tensor> { x };
            double alpha = _c.Alpha ?? Math.Pow(2.0 * _c.Layers, 0.25);
            for (int l = 1; l <= _c.Layers; l++)
            {
                if (skip?.Contains(l) == true)
                {
                    states.Add(x);
                    continue;
                }
                string p = $"layers.{l - 1}";
                Tensor Gain(Tensor branch, string which) => _c.LayerScale ? branch * P($"{p}.{which}_layer_scale") : branch;
                bool post = _c.Kind == Kind.Post || (_c.Kind == Kind.Mix && l <= _c.PostLayers);
                double s = Factor(l);
                double sMlp = _bug == Bug.OnlyAttentionNormScaled ? 1 : s;
                if (_c.Kind == Kind.DeepNorm)
                {
                    x = Norm(alpha * x + Gain(Attention(x, p + ".self_attn"), "attn"), p + ".post_attention_layernorm");
                    x = Norm(alpha * x + Gain(Mlp(x, p + ".mlp"), "mlp"), p + ".post_feedforward_layernorm");
                }
                else if (post)
                {
                    x = Norm(x + Gain(Attention(x, p + ".self_attn"), "attn"), p + ".post_attention_layernorm");
                    x = Norm(x + Gain(Mlp(x, p + ".mlp"), "mlp"), p + ".post_feedforward_layernorm");
                }
                else if (_c.Kind == Kind.Peri)
                {
                    x = x + Gain(Norm(Attention(Norm(x, p + ".input_layernorm", s), p + ".self_attn"), p + ".post_attention_layernorm"), "attn");
                    x = x + Gain(Norm(Mlp(Norm(x, p + ".pre_feedforward_layernorm", sMlp), p + ".mlp"), p + ".post_feedforward_layernorm"), "mlp");
                }
                else
                {
                    x = x + Gain(Attention(Norm(x, p + ".input_layernorm", s), p + ".self_attn"), "attn");
                    x = x + Gain(Mlp(Norm(x, p + ".post_attention_layernorm", sMlp), p + ".mlp"), "mlp");
                }
                states.Add(x);
            }
            double finalScale = _bug == Bug.ScaledFinalNorm ? 1 / Math.Sqrt(_c.Layers) : 1;
            var head = _c.Tied ? P("embed_tokens.weight") : P("lm_head.weight");
            return (Norm(x, "norm", finalScale).matmul(head.t()), states);
        }

        /// <summary>max |a - b| / max |b|.</summary>
        public static double RelativeError(Tensor actual, Tensor expected)
            => (actual.to(ScalarType.Float64) - expected).abs().max().item<double>() / expected.abs().max().item<double>();

        /// <summary>Sets every parameter to random values of a size that makes every scale factor visible in the output.</summary>
        public static void Randomize(TransformerModule model, long seed)
        {
            using var generator = new Generator((ulong)seed);
            using var _ = no_grad();
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith("layer_scale", StringComparison.Ordinal)) p.uniform_(0.3, 1.2, generator);
                else if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.uniform_(0.6, 1.4, generator);
                else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.uniform_(-0.3, 0.3, generator);
                else if (name == "embed_tokens.weight") p.normal_(0, 1.0, generator);
                else p.normal_(0, 1.0 / Math.Sqrt(p.shape[1]), generator);
            }
        }
    }
}
