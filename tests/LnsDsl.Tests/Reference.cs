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
        /// <summary>The embeddings are multiplied by Hidden instead of sqrt(Hidden).</summary>
        EmbeddingScaleHidden,
        /// <summary>HybridNorm's v is not normalised (q and k only).</summary>
        NoValueNorm,
    }

    /// <summary>The architecture as the test states it, independently of the generator's spec.</summary>
    public sealed record RefConfig(
        Kind Kind, ScaleRule Scale = ScaleRule.None, int PostLayers = 0, NormType NormType = NormType.RmsNorm,
        double Eps = 1e-6, Activation Activation = Activation.SwiGlu, bool Rope = true, double RopeTheta = 10000,
        bool QkNorm = false, bool LayerScale = false, bool Tied = false, double? Alpha = null,
        int Layers = 4, int Hidden = 32, int Heads = 4, int KvHeads = 4, int FeedForward = 48,
        // The vocabulary of imported checkpoints (Hugging Face's names in the comments of Reference).
        int HeadDim = 0, bool QkvBias = false, bool OutputBias = false, bool MlpBias = false,
        QkNormScope QkNormScope = QkNormScope.Head, double SoftCap = 0, int QueryScaleDim = 0,
        RopeScaling RopeScaling = RopeScaling.None, double RopeFactor = 1, double RopeLowFreqFactor = 1,
        double RopeHighFreqFactor = 4, int RopeOriginalMaxSeq = 8192,
        bool ScaleEmbeddings = false, double LogitSoftCap = 0, bool? EmbeddingNorm = null,
        // ReZero / SkipInit: each branch output times a learned scalar.
        bool ResidualGate = false,
        // Depth-muP / CompleteP: each branch output times this constant, (L / base)^-a, stated by the test.
        double BranchMultiplier = 1,
        // BHyT's kappa; HybridNorm*'s Pre-LN first block.
        double Kappa = 10, bool FirstBlockPreNorm = false,
        // Hyper-connections: n residual streams (0: one), mHC's Sinkhorn projection.
        int HyperStreams = 0, bool HyperManifold = true)
    {
        /// <summary>HeadDim, else Hidden / Heads.</summary>
        public int D => HeadDim != 0 ? HeadDim : Hidden / Heads;
    }

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
            else if ((type ?? _c.NormType) is NormType.RmsNormBias or NormType.CRmsNorm)
            {
                // CRMSNorm: the stream holds d - 1 coordinates of a zero-mean vector; restore the last (minus the sum).
                if ((type ?? _c.NormType) == NormType.CRmsNorm) x = Whole(x);
                var ms = (x * x).mean(new long[] { -1 }, keepdim: true);
                y = x / (ms + _c.Eps).sqrt() * P(prefix + ".weight") + P(prefix + ".bias");
            }
            else if ((type ?? _c.NormType) == NormType.DyT) // Dynamic Tanh: w * tanh(alpha x) + b, no statistics
            {
                y = (P(prefix + ".alpha") * x).tanh() * P(prefix + ".weight") + P(prefix + ".bias");
            }
            else if ((type ?? _c.NormType) == NormType.BHyT) // BHyT: w * tanh(lambda * x / (kappa * rms(x))), no bias
            {
                var rms = ((x * x).mean(new long[] { -1 }, keepdim: true) + _c.Eps).sqrt();
                y = (P(prefix + ".alpha") * x / (_c.Kappa * rms)).tanh() * P(prefix + ".weight");
            }
            else if ((type ?? _c.NormType) == NormType.RmsNormPlusOne) // Gemma: x * rsqrt(mean(x^2) + eps) * (1 + w)
            {
                var ms = (x * x).mean(new long[] { -1 }, keepdim: true);
                y = x / (ms + _c.Eps).sqrt() * (1.0 + P(prefix + ".weight"));
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

        /// <summary>A compressed stream's whole vector: the missing last coordinate is minus the sum of the others.</summary>
        private static Tensor Whole(Tensor x) => cat(new[] { x, -x.sum(new long[] { -1 }, keepdim: true) }, -1);

        /// <summary>A hidden state as the model records it: whole for a compressed stream.</summary>
        private Tensor State(Tensor x) => _c.NormType == NormType.CRmsNorm ? Whole(x) : x;

        private Tensor Rope(Tensor x) // [B, H, T, D], rotate_half convention
        {
            long t = x.shape[2], d = x.shape[3], half = d / 2;
            var cos = new double[t * d];
            var sin = new double[t * d];
            for (int pos = 0; pos < t; pos++)
                for (int i = 0; i < half; i++)
                {
                    double angle = pos * InverseFrequency(i, d);
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

        /// <summary>Hugging Face's <c>inv_freq[i] = theta^(-2i/d)</c> with its <c>rope_scaling</c> rules, written from
        /// <c>_compute_linear_scaling_rope_parameters</c> and <c>_compute_llama3_parameters</c>.</summary>
        private double InverseFrequency(int i, long d)
        {
            double invFreq = 1.0 / Math.Pow(_c.RopeTheta, 2.0 * i / d);
            if (_c.RopeScaling == RopeScaling.Linear) return invFreq / _c.RopeFactor;
            if (_c.RopeScaling != RopeScaling.Llama3) return invFreq;
            double oldContext = _c.RopeOriginalMaxSeq, low = _c.RopeLowFreqFactor, high = _c.RopeHighFreqFactor;
            double lowFreqWavelen = oldContext / low, highFreqWavelen = oldContext / high;
            double wavelen = 2 * Math.PI / invFreq;
            double scaled = wavelen > lowFreqWavelen ? invFreq / _c.RopeFactor : invFreq;
            double smooth = (oldContext / wavelen - low) / (high - low);
            double smoothed = (1 - smooth) * scaled / _c.RopeFactor + smooth * scaled;
            bool medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            return medium ? smoothed : scaled;
        }

        /// <summary>The type of the QK norms: Gemma's (1 + w) where the model has it, else RMSNorm.</summary>
        private NormType QkNormType => _c.NormType == NormType.RmsNormPlusOne ? NormType.RmsNormPlusOne : NormType.RmsNorm;

        private Tensor Attention(Tensor x, string prefix)
        {
            long b = x.shape[0], t = x.shape[1];
            int d = _c.D, qRows = _c.Heads * d, kvRows = _c.KvHeads * d;
            var w = P(prefix + ".qkv_proj.weight");
            var wq = w[..qRows];
            var wk = w[qRows..(qRows + kvRows)];
            var wv = w[(qRows + kvRows)..];
            var qFlat = x.matmul(wq.t());
            var kFlat = x.matmul(wk.t());
            var vFlat = x.matmul(wv.t());
            if (_c.QkvBias) // q_proj.bias, k_proj.bias, v_proj.bias, stacked in qkv_proj.bias as the weight rows
            {
                var bias = P(prefix + ".qkv_proj.bias");
                qFlat = qFlat + bias[..qRows];
                kFlat = kFlat + bias[qRows..(qRows + kvRows)];
                vFlat = vFlat + bias[(qRows + kvRows)..];
            }
            if (_c.QkNorm && _c.QkNormScope == QkNormScope.Projection) // OLMo-2: q_norm over [H*d], k_norm over [KV*d]
            {
                qFlat = Norm(qFlat, prefix + ".q_norm", type: QkNormType);
                kFlat = Norm(kFlat, prefix + ".k_norm", type: QkNormType);
            }
            var q = qFlat.view(b, t, _c.Heads, d).transpose(1, 2);
            var k = kFlat.view(b, t, _c.KvHeads, d).transpose(1, 2);
            var v = vFlat.view(b, t, _c.KvHeads, d).transpose(1, 2);
            if (_c.QkNorm && _c.QkNormScope == QkNormScope.Head)
            {
                q = Norm(q, prefix + ".q_norm", type: QkNormType);
                k = Norm(k, prefix + ".k_norm", type: QkNormType);
            }
            if (_c.Kind == Kind.Hybrid && _bug != Bug.NoValueNorm) v = Norm(v, prefix + ".v_norm", type: QkNormType); // HybridNorm: v per head too
            if (_c.Rope)
            {
                q = Rope(q);
                k = Rope(k);
            }
            // Query head h reads key/value head h / (Heads / KvHeads).
            var kvIndex = tensor(Enumerable.Range(0, _c.Heads).Select(h => (long)(h / (_c.Heads / _c.KvHeads))).ToArray());
            k = k.index_select(1, kvIndex);
            v = v.index_select(1, kvIndex);
            // Gemma-2: scaling = query_pre_attn_scalar^-0.5; attn_logit_softcapping: tanh(s / cap) * cap before the mask.
            var scores = q.matmul(k.transpose(2, 3)) * Math.Pow(_c.QueryScaleDim != 0 ? _c.QueryScaleDim : d, -0.5);
            if (_c.SoftCap > 0) scores = (scores / _c.SoftCap).tanh() * _c.SoftCap;
            var mask = ones(t, t, dtype: ScalarType.Bool).triu(1);
            scores = scores.masked_fill(mask, double.NegativeInfinity);
            var probs = scores.softmax(-1);
            var o = probs.matmul(v).transpose(1, 2).reshape(b, t, qRows);
            var output = o.matmul(P(prefix + ".o_proj.weight").t());
            return _c.OutputBias ? output + P(prefix + ".o_proj.bias") : output;
        }

        /// <summary>Exact GELU, <c>x * Phi(x)</c>.</summary>
        private static Tensor Gelu(Tensor u) => 0.5 * u * (1 + (u / Math.Sqrt(2)).erf());

        /// <summary>PyTorch's <c>gelu(approximate="tanh")</c>: <c>0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))</c>.</summary>
        private static Tensor GeluTanh(Tensor u) => 0.5 * u * (1 + (Math.Sqrt(2 / Math.PI) * (u + 0.044715 * u * u * u)).tanh());

        private Tensor Mlp(Tensor x, string prefix)
        {
            int f = _c.FeedForward;
            Tensor hidden;
            if (_c.Activation is Activation.SwiGlu or Activation.Geglu or Activation.GegluTanh)
            {
                var w = P(prefix + ".gate_up_proj.weight");
                var gate = x.matmul(w[..f].t());
                var up = x.matmul(w[f..].t());
                if (_c.MlpBias)
                {
                    var bias = P(prefix + ".gate_up_proj.bias");
                    gate = gate + bias[..f];
                    up = up + bias[f..];
                }
                var activated = _c.Activation switch
                {
                    Activation.Geglu => Gelu(gate),
                    Activation.GegluTanh => GeluTanh(gate),
                    _ => gate * gate.sigmoid(),
                };
                hidden = activated * up;
            }
            else
            {
                var u = x.matmul(P(prefix + ".up_proj.weight").t());
                if (_c.MlpBias) u = u + P(prefix + ".up_proj.bias");
                hidden = Gelu(u);
            }
            var down = hidden.matmul(P(prefix + ".down_proj.weight").t());
            return _c.MlpBias ? down + P(prefix + ".down_proj.bias") : down;
        }

        /// <summary>
        /// One residual add: <c>x + branch(x)</c>, or with hyper-connections over the streams <c>X</c> <c>[B, T, n, C]</c>, written
        /// from the equations: <c>x~ = vec(X) / sqrt(mean(vec(X)^2) + eps)</c>, <c>z = x~ phi</c>,
        /// <c>H_pre = sigmoid(a0 z[0..n) + b)</c>, <c>H_post = 2 sigmoid(a1 z[n..2n) + b)</c>, <c>H_res</c> = 20 Sinkhorn rounds
        /// (columns, then rows) of <c>exp(a2 z[2n..) + b)</c> (or those logits unconstrained), then
        /// <c>X'_s = sum_t H_res[s, t] X_t + H_post[s] branch(sum_t H_pre[t] X_t)</c>.
        /// </summary>
        private Tensor Add(Tensor x, string connection, Func<Tensor, Tensor> branch)
        {
            if (_c.HyperStreams == 0) return x + branch(x);
            long b = x.shape[0], t = x.shape[1], n = x.shape[2], c = x.shape[3];
            var flat = x.reshape(b, t, n * c);
            var normed = flat / ((flat * flat).mean(new long[] { -1 }, keepdim: true) + _c.Eps).sqrt();
            var z = normed.matmul(P(connection + ".phi"));
            var a = P(connection + ".alpha");
            var bias = P(connection + ".bias");
            var pre = (z[.., .., ..(int)n] * a[0] + bias[..(int)n]).sigmoid();
            var post = 2 * (z[.., .., (int)n..(int)(2 * n)] * a[1] + bias[(int)n..(int)(2 * n)]).sigmoid();
            var res = (z[.., .., (int)(2 * n)..] * a[2] + bias[(int)(2 * n)..]).reshape(b, t, n, n);
            if (_c.HyperManifold)
            {
                res = res.exp();
                for (int i = 0; i < 20; i++)
                {
                    res = res / res.sum(new long[] { 2 }, keepdim: true);
                    res = res / res.sum(new long[] { 3 }, keepdim: true);
                }
            }
            var u = (x * pre.unsqueeze(3)).sum(new long[] { 2 });
            var f = branch(u);
            return res.matmul(x) + post.unsqueeze(3) * f.unsqueeze(2);
        }

        /// <summary>A recorded state: the streams' sum with hyper-connections.</summary>
        private Tensor Merged(Tensor x) => _c.HyperStreams > 0 ? x.sum(new long[] { 2 }) : x;

        /// <summary>Logits, and the hidden states (embedding output, then each block's output).</summary>
        /// <summary>The parts of one block, for a block written by hand in a test (<see cref="Block"/>): the branches, the
        /// layer's norm by name (with a factor), and the block's depth factor s.</summary>
        public sealed record BlockParts(Func<Tensor, Tensor> Attention, Func<Tensor, Tensor> Mlp, Func<Tensor, string, double, Tensor> Norm, double S);

        /// <summary>Computes every block with this instead of the placement's own equations (a new block tried in a test).</summary>
        public Func<BlockParts, Tensor, Tensor>? Block { get; init; }

        public (Tensor Logits, List<Tensor> States) Forward(Tensor tokens, ISet<int>? skip = null)
        {
            var table = P("embed_tokens.weight"); // [Vocab, Hidden], or [Vocab, Hidden - 1] for a compressed stream
            var x = table.index_select(0, tokens.reshape(-1)).view(tokens.shape[0], tokens.shape[1], table.shape[1]);
            if (_c.ScaleEmbeddings) x = x * (_bug == Bug.EmbeddingScaleHidden ? _c.Hidden : Math.Sqrt(_c.Hidden)); // Gemma's normalizer
            if (_c.EmbeddingNorm ?? _c.Kind == Kind.Peri) x = Norm(x, "embed_norm");
            if (_c.HyperStreams > 0) x = x.unsqueeze(2).expand(x.shape[0], x.shape[1], _c.HyperStreams, x.shape[2]);
            var states = new List<Tensor> { State(Merged(x)) };
            double alpha = _c.Alpha ?? Math.Pow(2.0 * _c.Layers, 0.25);
            for (int l = 1; l <= _c.Layers; l++)
            {
                if (skip?.Contains(l) == true)
                {
                    states.Add(State(Merged(x)));
                    continue;
                }
                string p = $"layers.{l - 1}";
                if (Block is not null)
                {
                    x = Block(new BlockParts(t => Attention(t, p + ".self_attn"), t => Mlp(t, p + ".mlp"), (t, norm, scale) => Norm(t, $"{p}.{norm}", scale), Factor(l)), x);
                    states.Add(State(x));
                    continue;
                }
                Tensor Gain(Tensor branch, string which)
                {
                    var gained = _c.LayerScale ? branch * P($"{p}.{which}_layer_scale") : branch;
                    var gated = _c.ResidualGate ? gained * P($"{p}.{which}_gate") : gained;
                    return gated * _c.BranchMultiplier;
                }
                bool post = _c.Kind == Kind.Post || (_c.Kind == Kind.Mix && l <= _c.PostLayers);
                double s = Factor(l);
                double sMlp = _bug == Bug.OnlyAttentionNormScaled ? 1 : s;
                if (_c.Kind == Kind.Hybrid && !(_c.FirstBlockPreNorm && l == 1)) // HybridNorm: x + Attn(x), z = N(h), z + Mlp(z)
                {
                    x = x + Gain(Attention(x, p + ".self_attn"), "attn");
                    x = Norm(x, p + ".post_attention_layernorm");
                    x = x + Gain(Mlp(x, p + ".mlp"), "mlp");
                }
                else if (_c.Kind == Kind.None) // ReZero: no norms in the block
                {
                    x = Add(x, p + ".attn_hc", v => Gain(Attention(v, p + ".self_attn"), "attn"));
                    x = Add(x, p + ".mlp_hc", v => Gain(Mlp(v, p + ".mlp"), "mlp"));
                }
                else if (_c.Kind == Kind.DeepNorm)
                {
                    x = Norm(alpha * x + Gain(Attention(x, p + ".self_attn"), "attn"), p + ".post_attention_layernorm");
                    x = Norm(alpha * x + Gain(Mlp(x, p + ".mlp"), "mlp"), p + ".post_feedforward_layernorm");
                }
                else if (post)
                {
                    x = Norm(x + Gain(Attention(x, p + ".self_attn"), "attn"), p + ".post_attention_layernorm");
                    x = Norm(x + Gain(Mlp(x, p + ".mlp"), "mlp"), p + ".post_feedforward_layernorm");
                }
                else if (_c.Kind == Kind.OutputNorm) // OLMo-2: h = x + N(Attn(x)), y = h + N(Mlp(h))
                {
                    x = Add(x, p + ".attn_hc", v => Gain(Norm(Attention(v, p + ".self_attn"), p + ".post_attention_layernorm"), "attn"));
                    x = Add(x, p + ".mlp_hc", v => Gain(Norm(Mlp(v, p + ".mlp"), p + ".post_feedforward_layernorm"), "mlp"));
                }
                else if (_c.Kind == Kind.Peri)
                {
                    x = Add(x, p + ".attn_hc", v => Gain(Norm(Attention(Norm(v, p + ".input_layernorm", s), p + ".self_attn"), p + ".post_attention_layernorm"), "attn"));
                    x = Add(x, p + ".mlp_hc", v => Gain(Norm(Mlp(Norm(v, p + ".pre_feedforward_layernorm", sMlp), p + ".mlp"), p + ".post_feedforward_layernorm"), "mlp"));
                }
                else
                {
                    x = Add(x, p + ".attn_hc", v => Gain(Attention(Norm(v, p + ".input_layernorm", s), p + ".self_attn"), "attn"));
                    x = Add(x, p + ".mlp_hc", v => Gain(Mlp(Norm(v, p + ".post_attention_layernorm", sMlp), p + ".mlp"), "mlp"));
                }
                states.Add(State(Merged(x)));
            }
            x = Merged(x);
            double finalScale = _bug == Bug.ScaledFinalNorm ? 1 / Math.Sqrt(_c.Layers) : 1;
            var head = _c.Tied ? P("embed_tokens.weight") : P("lm_head.weight");
            var logits = Norm(x, "norm", finalScale).matmul(head.t());
            if (_c.LogitSoftCap > 0) logits = (logits / _c.LogitSoftCap).tanh() * _c.LogitSoftCap; // final_logit_softcapping
            return (logits, states);
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
                else if (name.EndsWith("_gate", StringComparison.Ordinal)) p.uniform_(0.3, 1.2, generator); // residual gates (one scalar)
                else if (name.EndsWith(".alpha", StringComparison.Ordinal)) p.uniform_(0.3, 1.5, generator); // DyT's alpha (one scalar)
                else if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.uniform_(0.6, 1.4, generator);
                else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.uniform_(-0.3, 0.3, generator);
                else if (name == "embed_tokens.weight") p.normal_(0, 1.0, generator);
                else p.normal_(0, 1.0 / Math.Sqrt(p.shape[1]), generator);
            }
        }
    }
}
