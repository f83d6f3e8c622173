using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LnsDsl.Experiments
{
    /// <summary>
    /// The obvious TorchSharp composition of a model, the baseline <c>lnsrun bench</c> measures the generated code
    /// against: separate <c>q_proj</c>/<c>k_proj</c>/<c>v_proj</c> and <c>gate_proj</c>/<c>up_proj</c> linear layers,
    /// attention written out (scores, causal mask, softmax, weighted sum), RoPE as a separate step, RMSNorm as
    /// <c>x * rsqrt(mean(x^2) + eps) * weight</c> followed by a separate multiply by the LNS factor. It computes the
    /// same function as the generated model for every placement of <see cref="ModelSpec"/> (the tests check it to
    /// fp32 rounding) and can copy a generated model's weights (<see cref="CopyFrom"/>), so the two do the same work.
    /// </summary>
    public sealed class UnfusedTransformer : nn.Module<Tensor, Tensor>
    {
        private readonly ModelSpec _spec;
        private readonly Embedding _embed;
        private readonly UnfusedNorm? _embedNorm;
        private readonly ModuleList<UnfusedBlock> _blocks;
        private readonly UnfusedNorm _norm;
        private readonly Linear? _head;
        private readonly RotaryTables? _rope;

        public UnfusedTransformer(ModelSpec spec) : base(spec.Name + "_unfused")
        {
            var unsupported = Unsupported(spec);
            if (unsupported.Count > 0)
                throw new NotSupportedException($"{spec.Name}: the unfused baseline of the bench does not implement {string.Join(", ", unsupported)} " +
                                                "(the vocabulary of imported checkpoints); bench the generated model alone with --no-unfused");
            _spec = spec;
            _embed = nn.Embedding(spec.Vocab, spec.Hidden);
            register_module("embed", _embed);
            if (spec.EmbeddingNorm)
            {
                _embedNorm = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                register_module("embed_norm", _embedNorm);
            }
            if (spec.Rope)
            {
                var (cos, sin) = Fused.RopeTables(spec.MaxSeq, spec.HeadDim, spec.RopeTheta);
                _rope = new RotaryTables(cos, sin); // plain sin: this composition builds rotate_half itself
            }
            _blocks = new ModuleList<UnfusedBlock>(spec.Blocks.Select(b => new UnfusedBlock(spec, b, _rope)).ToArray());
            register_module("blocks", _blocks);
            _norm = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
            register_module("norm", _norm);
            if (!spec.TieEmbeddings)
            {
                _head = nn.Linear(spec.Hidden, spec.Vocab, hasBias: false);
                register_module("head", _head);
            }
        }

        /// <summary>
        /// The features of <paramref name="spec"/> this composition does not implement (empty where it computes the model):
        /// the vocabulary added for imported checkpoints (an explicit head size, biases, GeGLU, projection-wide QK norm,
        /// soft-capping, a score scale, RoPE scaling, scaled embeddings, Gemma's RMSNorm, Output-LN, an embedding norm
        /// other than Peri-LN's default). The bench measures such models without this baseline.
        /// </summary>
        public static IReadOnlyList<string> Unsupported(ModelSpec spec)
        {
            var list = new List<string>();
            if (spec.HeadDim * spec.Heads != spec.Hidden) list.Add($"HeadDim = {spec.HeadDim} (not Hidden / Heads)");
            if (spec.QkvBias || spec.OutputBias || spec.MlpBias) list.Add("projection biases");
            if (spec.Activation is Activation.Geglu or Activation.GegluTanh) list.Add($"Activation.{spec.Activation}");
            if (spec.QkNorm && spec.QkNormScope != QkNormScope.Head) list.Add($"QkNormScope.{spec.QkNormScope}");
            if (Attentions.Explicit(spec.SoftCap, spec.QueryScaleDim)) list.Add("explicit attention (SoftCap, QueryScaleDim)");
            if (spec.RopeScaling != RopeScaling.None) list.Add($"RopeScaling.{spec.RopeScaling}");
            if (spec.ScaleEmbeddings || spec.LogitSoftCap != 0) list.Add("ScaleEmbeddings / LogitSoftCap");
            if (spec.NormType is NormType.RmsNormPlusOne or NormType.RmsNormBias or NormType.CRmsNorm or NormType.DyT or NormType.BHyT) list.Add($"NormType.{spec.NormType}");
            if (spec.Norm == Kind.OutputNorm) list.Add("Kind.OutputNorm");
            if (spec.Norm is Kind.None or Kind.Hybrid) list.Add($"Kind.{spec.Norm}");
            if (spec.ResidualRule != ResidualRule.None) list.Add($"ResidualRule.{spec.ResidualRule}");
            if (spec.HyperStreams > 0) list.Add("[HyperConnections]");
            if (spec.ResidualGate != ResidualGate.None) list.Add($"ResidualGate.{spec.ResidualGate}");
            if (spec.EmbeddingNorm != (spec.Norm == Kind.Peri)) list.Add($"EmbeddingNorm = {(spec.EmbeddingNorm ? "true" : "false")}");
            return list;
        }

        /// <summary>Logits <c>[B, T, Vocab]</c>.</summary>
        public override Tensor forward(Tensor tokens)
        {
            using var scope = NewDisposeScope();
            var x = _embed.forward(tokens);
            if (_embedNorm is not null) x = _embedNorm.forward(x);
            foreach (var block in _blocks) x = block.forward(x);
            x = _norm.forward(x);
            var logits = _head is not null ? _head.forward(x) : x.matmul(_embed.weight!.t());
            return logits.MoveToOuterDisposeScope();
        }

        /// <summary>Copies a generated model's weights (cutting the fused <c>qkv_proj</c> and <c>gate_up_proj</c> apart).</summary>
        public void CopyFrom(TransformerModule model)
        {
            if (model.Spec != _spec && model.Spec.FullName != _spec.FullName)
                throw new ArgumentException($"{model.Spec.Name} is not {_spec.Name}", nameof(model));
            using var noGrad = no_grad();
            _embed.weight!.copy_(model.embed_tokens.weight);
            if (_embedNorm is not null) _embedNorm.CopyFrom(model.embed_norm!);
            for (int i = 0; i < _spec.Layers; i++) _blocks[i].CopyFrom(model.layers[i]);
            _norm.CopyFrom(model.norm);
            _head?.weight!.copy_(model.lm_head!.weight);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _rope?.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>RMSNorm or LayerNorm, written out (RMSNorm) or with the stock module (LayerNorm).</summary>
    internal sealed class UnfusedNorm : nn.Module<Tensor, Tensor>
    {
        private readonly double _eps;
        private readonly Parameter? weight; // RMSNorm's gain (LayerNorm keeps its own)
        private readonly LayerNorm? ln;

        public UnfusedNorm(long size, NormType type, double eps) : base("norm")
        {
            _eps = eps;
            if (type == NormType.LayerNorm)
            {
                ln = nn.LayerNorm(size, eps);
                register_module(nameof(ln), ln);
            }
            else
            {
                weight = new Parameter(ones(size));
                register_parameter(nameof(weight), weight);
            }
        }

        public override Tensor forward(Tensor x)
        {
            if (ln is not null) return ln.forward(x);
            using var scope = NewDisposeScope();
            var rms = x.pow(2).mean(new long[] { -1 }, keepdim: true).add(_eps).rsqrt();
            return (x * rms * weight!).MoveToOuterDisposeScope();
        }

        public void CopyFrom(NormWeight norm)
        {
            (ln?.weight ?? weight)!.copy_(norm.weight);
            if (ln is not null && norm.bias is not null) ln.bias!.copy_(norm.bias);
        }
    }

    /// <summary>One decoder block of <see cref="UnfusedTransformer"/>, wired as its <see cref="BlockSpec"/> says.</summary>
    internal sealed class UnfusedBlock : nn.Module<Tensor, Tensor>
    {
        private readonly ModelSpec _spec;
        private readonly BlockSpec _block;
        private readonly RotaryTables? _rope;
        private readonly Linear q_proj, k_proj, v_proj, o_proj, up_proj, down_proj;
        private readonly Linear? gate_proj;
        private readonly UnfusedNorm? q_norm, k_norm;
        private readonly UnfusedNorm? attnIn, attnOut, mlpIn, mlpOut;
        private readonly Parameter? attnGain, mlpGain;

        public UnfusedBlock(ModelSpec spec, BlockSpec block, RotaryTables? rope) : base($"block{block.Index}")
        {
            _spec = spec;
            _block = block;
            _rope = rope;
            long q = (long)spec.Heads * spec.HeadDim, kv = (long)spec.KvHeads * spec.HeadDim;
            q_proj = nn.Linear(spec.Hidden, q, hasBias: false);
            k_proj = nn.Linear(spec.Hidden, kv, hasBias: false);
            v_proj = nn.Linear(spec.Hidden, kv, hasBias: false);
            o_proj = nn.Linear(q, spec.Hidden, hasBias: false);
            up_proj = nn.Linear(spec.Hidden, spec.FeedForward, hasBias: false);
            down_proj = nn.Linear(spec.FeedForward, spec.Hidden, hasBias: false);
            if (spec.Activation == Activation.SwiGlu) gate_proj = nn.Linear(spec.Hidden, spec.FeedForward, hasBias: false);
            if (spec.QkNorm)
            {
                q_norm = new UnfusedNorm(spec.HeadDim, NormType.RmsNorm, spec.Eps);
                k_norm = new UnfusedNorm(spec.HeadDim, NormType.RmsNorm, spec.Eps);
            }
            switch (block.Placement)
            {
                case Placement.PreLn:
                    attnIn = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    mlpIn = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    break;
                case Placement.PeriLn:
                    attnIn = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    attnOut = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    mlpIn = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    mlpOut = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    break;
                default: // Post-LN and DeepNorm: a norm after each residual add
                    attnOut = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    mlpOut = new UnfusedNorm(spec.Hidden, spec.NormType, spec.Eps);
                    break;
            }
            if (spec.LayerScale)
            {
                attnGain = new Parameter(full(spec.Hidden, spec.LayerScaleInit));
                mlpGain = new Parameter(full(spec.Hidden, spec.LayerScaleInit));
            }
            foreach (var (name, module) in new (string, nn.Module?)[]
            {
                ("q_proj", q_proj), ("k_proj", k_proj), ("v_proj", v_proj), ("o_proj", o_proj), ("gate_proj", gate_proj),
                ("up_proj", up_proj), ("down_proj", down_proj), ("q_norm", q_norm), ("k_norm", k_norm),
                ("attn_in", attnIn), ("attn_out", attnOut), ("mlp_in", mlpIn), ("mlp_out", mlpOut),
            })
                if (module is not null) register_module(name, module);
            if (attnGain is not null) register_parameter("attn_gain", attnGain);
            if (mlpGain is not null) register_parameter("mlp_gain", mlpGain);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            double s = _block.NormScale, alpha = _block.ResidualAlpha;
            Tensor y;
            switch (_block.Placement)
            {
                case Placement.PreLn:
                    x = x + Gain(Attention(Scaled(attnIn!.forward(x), s)), attnGain);
                    y = x + Gain(Mlp(Scaled(mlpIn!.forward(x), s)), mlpGain);
                    break;
                case Placement.PeriLn:
                    x = x + Gain(attnOut!.forward(Attention(Scaled(attnIn!.forward(x), s))), attnGain);
                    y = x + Gain(mlpOut!.forward(Mlp(Scaled(mlpIn!.forward(x), s))), mlpGain);
                    break;
                default:
                    x = attnOut!.forward(Residual(x, alpha) + Gain(Attention(x), attnGain));
                    y = mlpOut!.forward(Residual(x, alpha) + Gain(Mlp(x), mlpGain));
                    break;
            }
            return y.MoveToOuterDisposeScope();
        }

        // The LNS factor as its own multiply after the norm (where the spec scales this block's norms at all).
        private Tensor Scaled(Tensor normed, double s) => _spec.Scale == ScaleRule.None ? normed : normed * s;

        private static Tensor Residual(Tensor x, double alpha) => alpha == 1.0 ? x : x * alpha;

        private static Tensor Gain(Tensor branch, Parameter? gain) => gain is null ? branch : branch * gain;

        private Tensor Attention(Tensor x)
        {
            long b = x.shape[0], t = x.shape[1];
            int d = _spec.HeadDim;
            var q = q_proj.forward(x).view(b, t, _spec.Heads, d).transpose(1, 2);
            var k = k_proj.forward(x).view(b, t, _spec.KvHeads, d).transpose(1, 2);
            var v = v_proj.forward(x).view(b, t, _spec.KvHeads, d).transpose(1, 2);
            if (q_norm is not null)
            {
                q = q_norm.forward(q);
                k = k_norm!.forward(k);
            }
            if (_spec.Rope)
            {
                var (cos, sin) = _rope!.For(x);
                var c = cos.narrow(0, 0, t);
                var sn = sin.narrow(0, 0, t);
                q = RotateHalf(q, c, sn);
                k = RotateHalf(k, c, sn);
            }
            if (_spec.KvHeads != _spec.Heads)
            {
                k = k.repeat_interleave(_spec.Heads / _spec.KvHeads, dim: 1);
                v = v.repeat_interleave(_spec.Heads / _spec.KvHeads, dim: 1);
            }
            var scores = q.matmul(k.transpose(2, 3)) / Math.Sqrt(d);
            var mask = ones(t, t, dtype: ScalarType.Bool, device: x.device).triu(1);
            scores = scores.masked_fill(mask, double.NegativeInfinity);
            var o = scores.softmax(-1).matmul(v);
            return o_proj.forward(o.transpose(1, 2).reshape(b, t, (long)_spec.Heads * d));
        }

        private static Tensor RotateHalf(Tensor x, Tensor cos, Tensor sin)
        {
            long half = x.shape[3] / 2;
            var rotated = cat(new[] { -x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
            return x * cos + rotated * sin;
        }

        private Tensor Mlp(Tensor x)
        {
            var hidden = gate_proj is not null
                ? nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)
                : nn.functional.gelu(up_proj.forward(x));
            return down_proj.forward(hidden);
        }

        public void CopyFrom(DecoderLayer layer)
        {
            long q = (long)_spec.Heads * _spec.HeadDim, kv = (long)_spec.KvHeads * _spec.HeadDim;
            var qkv = layer.self_attn.qkv_proj.weight;
            q_proj.weight!.copy_(qkv.narrow(0, 0, q));
            k_proj.weight!.copy_(qkv.narrow(0, q, kv));
            v_proj.weight!.copy_(qkv.narrow(0, q + kv, kv));
            o_proj.weight!.copy_(layer.self_attn.o_proj.weight);
            if (q_norm is not null)
            {
                q_norm.CopyFrom(layer.self_attn.q_norm!);
                k_norm!.CopyFrom(layer.self_attn.k_norm!);
            }
            if (gate_proj is not null)
            {
                var gateUp = layer.mlp.gate_up_proj!.weight;
                gate_proj.weight!.copy_(gateUp.narrow(0, 0, _spec.FeedForward));
                up_proj.weight!.copy_(gateUp.narrow(0, _spec.FeedForward, _spec.FeedForward));
            }
            else
            {
                up_proj.weight!.copy_(layer.mlp.up_proj!.weight);
            }
            down_proj.weight!.copy_(layer.mlp.down_proj.weight);
            switch (_block.Placement)
            {
                case Placement.PreLn:
                    attnIn!.CopyFrom(layer.input_layernorm!);
                    mlpIn!.CopyFrom(layer.post_attention_layernorm!);
                    break;
                case Placement.PeriLn:
                    attnIn!.CopyFrom(layer.input_layernorm!);
                    attnOut!.CopyFrom(layer.post_attention_layernorm!);
                    mlpIn!.CopyFrom(layer.pre_feedforward_layernorm!);
                    mlpOut!.CopyFrom(layer.post_feedforward_layernorm!);
                    break;
                default:
                    attnOut!.CopyFrom(layer.post_attention_layernorm!);
                    mlpOut!.CopyFrom(layer.post_feedforward_layernorm!);
                    break;
            }
            if (attnGain is not null)
            {
                attnGain.copy_(layer.attn_layer_scale!);
                mlpGain!.copy_(layer.mlp_layer_scale!);
            }
        }

    }
}
