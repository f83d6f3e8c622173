using System;
using System.Linq;
using System.Collections.Generic;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LnsDsl
{
    // Weight containers. They hold parameters under the checkpoint names README.md lists ("Parameter names")
    // (`layers.{i}.self_attn.qkv_proj.weight`, ...); the computation lives in the generated forward and in
    // Fused. None of them has a forward of its own.

    /// <summary>A linear layer's weight, <c>[out, in]</c>, and, where declared, its bias <c>[out]</c> (init 0).</summary>
    public sealed class LinearWeight : nn.Module
    {
        public Parameter weight;
        public Parameter? bias;

        public LinearWeight(string name, long outFeatures, long inFeatures, bool withBias = false) : base(name)
        {
            weight = new Parameter(empty(outFeatures, inFeatures));
            register_parameter(nameof(weight), weight);
            if (withBias)
            {
                bias = new Parameter(zeros(outFeatures));
                register_parameter(nameof(bias), bias);
            }
        }
    }

    /// <summary>A norm's affine parameters: <c>weight</c> (init 1; 0 for <see cref="NormType.RmsNormPlusOne"/>, whose
    /// gain is <c>1 + weight</c>) and, for LayerNorm, <c>bias</c> (init 0).</summary>
    public sealed class NormWeight : nn.Module
    {
        public Parameter weight;
        public Parameter? bias;
        /// <summary>DyT's learned scalar inside the tanh, <c>[1]</c>; null for the other norm types.</summary>
        public Parameter? alpha;

        public NormWeight(string name, long size, bool withBias, bool plusOne = false, double? tanhAlpha = null) : base(name)
        {
            weight = new Parameter(plusOne ? zeros(size) : ones(size));
            register_parameter(nameof(weight), weight);
            if (withBias)
            {
                bias = new Parameter(zeros(size));
                register_parameter(nameof(bias), bias);
            }
            if (tanhAlpha is { } a)
            {
                alpha = new Parameter(full(1, a));
                register_parameter(nameof(alpha), alpha);
            }
        }

        /// <summary>A block or final norm of <paramref name="spec"/>'s type; <paramref name="tanhAlpha"/> is DyT's initial alpha
        /// for this position (ignored by the other types).</summary>
        public static NormWeight For(ModelSpec spec, string name, double tanhAlpha)
            => new(name, spec.Hidden, Norms.HasBias(spec.NormType), Norms.PlusOne(spec.NormType), Norms.HasAlpha(spec.NormType) ? tanhAlpha : null);
    }

    /// <summary>
    /// One hyper-connection (mHC): <c>phi</c> <c>[n * Hidden, n (n + 2)]</c> (the dynamic part's projection, initialised to 0 as in
    /// the hyper-connections paper), <c>bias</c> <c>[n (n + 2)]</c> (the static part: <c>H_pre = 1/n</c> each, <c>H_post = 1</c>, and
    /// <c>H_res</c> near the identity: logits 0 on the diagonal and <see cref="HyperConnections.OffDiagonalInit"/> off it, or the
    /// identity itself without the manifold), <c>alpha</c> <c>[3]</c> (the gates on the dynamic part, <see cref="HyperConnections.GateInit"/>).
    /// </summary>
    public sealed class HyperConnectionWeights : nn.Module
    {
        public Parameter phi;
        public Parameter bias;
        public Parameter alpha;

        public HyperConnectionWeights(string name, int streams, long hidden, bool manifold) : base(name)
        {
            int n = streams;
            phi = new Parameter(zeros(n * hidden, HyperConnections.Coefficients(n)));
            var b = new float[HyperConnections.Coefficients(n)];
            for (int i = 0; i < n; i++) b[i] = (float)-Math.Log(n - 1.0); // sigmoid(-ln(n - 1)) = 1/n: the branch reads the streams' mean
            for (int i = 0; i < n; i++) b[n + i] = 0;                       // 2 sigmoid(0) = 1: the branch output written into every stream
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    b[2 * n + i * n + j] = manifold ? (i == j ? 0 : (float)HyperConnections.OffDiagonalInit) : (i == j ? 1 : 0);
            bias = new Parameter(tensor(b));
            alpha = new Parameter(full(3, HyperConnections.GateInit));
            register_parameter(nameof(phi), phi);
            register_parameter(nameof(bias), bias);
            register_parameter(nameof(alpha), alpha);
        }
    }

    /// <summary>The embedding table <c>[vocab, hidden]</c>.</summary>
    public sealed class EmbeddingWeight : nn.Module
    {
        public Parameter weight;

        public EmbeddingWeight(string name, long vocab, long hidden) : base(name)
        {
            weight = new Parameter(empty(vocab, hidden));
            register_parameter(nameof(weight), weight);
        }
    }

    /// <summary>
    /// Attention weights. <c>qkv_proj</c> is the fused projection: rows <c>[0, Heads*HeadDim)</c> are q,
    /// the next <c>KvHeads*HeadDim</c> rows k, the last <c>KvHeads*HeadDim</c> rows v.
    /// </summary>
    public sealed class AttentionWeights : nn.Module
    {
        public LinearWeight qkv_proj;
        public LinearWeight o_proj;
        public NormWeight? q_norm;
        public NormWeight? k_norm;
        /// <summary>HybridNorm's per-head norm of v, <c>[HeadDim]</c>.</summary>
        public NormWeight? v_norm;

        public AttentionWeights(ModelSpec spec) : base("self_attn")
        {
            long q = (long)spec.Heads * spec.HeadDim, kv = (long)spec.KvHeads * spec.HeadDim;
            qkv_proj = new LinearWeight(nameof(qkv_proj), q + 2 * kv, spec.Hidden, spec.QkvBias);
            o_proj = new LinearWeight(nameof(o_proj), Norms.StreamWidth(spec.NormType, spec.Hidden), q, spec.OutputBias);
            register_module(nameof(qkv_proj), qkv_proj);
            register_module(nameof(o_proj), o_proj);
            if (spec.QkNorm)
            {
                // Per head: [HeadDim] each; over the projections (OLMo-2): [Heads * HeadDim] and [KvHeads * HeadDim].
                bool projection = spec.QkNormScope == QkNormScope.Projection;
                bool plusOne = Norms.PlusOne(spec.NormType);
                q_norm = new NormWeight(nameof(q_norm), projection ? q : spec.HeadDim, withBias: false, plusOne);
                k_norm = new NormWeight(nameof(k_norm), projection ? kv : spec.HeadDim, withBias: false, plusOne);
                register_module(nameof(q_norm), q_norm);
                register_module(nameof(k_norm), k_norm);
            }
            if (spec.ValueNorm)
            {
                v_norm = new NormWeight(nameof(v_norm), spec.HeadDim, withBias: false, Norms.PlusOne(spec.NormType));
                register_module(nameof(v_norm), v_norm);
            }
        }
    }

    /// <summary>
    /// Feed-forward weights. SwiGLU, GeGLU: <c>gate_up_proj</c> (rows <c>[0, FeedForward)</c> gate, the next
    /// <c>FeedForward</c> rows up) and <c>down_proj</c>. GELU: <c>up_proj</c> and <c>down_proj</c>.
    /// </summary>
    public sealed class MlpWeights : nn.Module
    {
        public LinearWeight? gate_up_proj;
        public LinearWeight? up_proj;
        public LinearWeight down_proj;

        public MlpWeights(ModelSpec spec) : base("mlp")
        {
            if (Activations.IsGated(spec.Activation))
            {
                gate_up_proj = new LinearWeight(nameof(gate_up_proj), 2L * spec.FeedForward, spec.Hidden, spec.MlpBias);
                register_module(nameof(gate_up_proj), gate_up_proj);
            }
            else
            {
                up_proj = new LinearWeight(nameof(up_proj), spec.FeedForward, spec.Hidden, spec.MlpBias);
                register_module(nameof(up_proj), up_proj);
            }
            down_proj = new LinearWeight(nameof(down_proj), Norms.StreamWidth(spec.NormType, spec.Hidden), spec.FeedForward, spec.MlpBias);
            register_module(nameof(down_proj), down_proj);
        }
    }

    /// <summary>
    /// One decoder block's parameters. Which norms exist depends on the placement (its <see cref="BlockProgram"/> names them):
    /// <list type="bullet">
    /// <item>Pre-LN: <c>input_layernorm</c> (before attention), <c>post_attention_layernorm</c> (before the MLP; LLaMA's name).</item>
    /// <item>Post-LN and DeepNorm: <c>post_attention_layernorm</c> (after the attention residual add), <c>post_feedforward_layernorm</c> (after the MLP residual add).</item>
    /// <item>Output-LN (OLMo-2 names): <c>post_attention_layernorm</c> (attention output), <c>post_feedforward_layernorm</c> (MLP output).</item>
    /// <item>Peri-LN (Gemma-2 names): <c>input_layernorm</c>, <c>post_attention_layernorm</c> (attention output), <c>pre_feedforward_layernorm</c>, <c>post_feedforward_layernorm</c> (MLP output).</item>
    /// </list>
    /// LayerScale adds <c>attn_layer_scale</c> and <c>mlp_layer_scale</c> (per-channel gains).
    /// </summary>
    public sealed class DecoderLayer : nn.Module
    {
        public AttentionWeights self_attn;
        public MlpWeights mlp;
        public NormWeight? input_layernorm;
        public NormWeight? post_attention_layernorm;
        public NormWeight? pre_feedforward_layernorm;
        public NormWeight? post_feedforward_layernorm;
        public Parameter? attn_layer_scale;
        public Parameter? mlp_layer_scale;
        /// <summary>The residual gates (ReZero, SkipInit): one scalar per branch, <c>[1]</c>.</summary>
        public Parameter? attn_gate;
        public Parameter? mlp_gate;
        /// <summary>Hyper-connections (mHC): one per residual branch.</summary>
        public HyperConnectionWeights? attn_hc;
        public HyperConnectionWeights? mlp_hc;

        public DecoderLayer(ModelSpec spec, BlockSpec block) : base($"layers.{block.Index - 1}")
        {
            self_attn = new AttentionWeights(spec);
            mlp = new MlpWeights(spec);
            register_module(nameof(self_attn), self_attn);
            register_module(nameof(mlp), mlp);
            var program = spec.ProgramOf(block.Placement);
            NormWeight Norm(string name)
            {
                var position = program.NormPositions.Single(p => p.Weight == name).Position;
                var n = NormWeight.For(spec, name, position == BranchKind.Attention ? spec.TanhAlpha : spec.TanhAlphaMlp);
                register_module(name, n);
                return n;
            }
            // The norms the block's program reads, in the order it applies them (BlockPrograms owns which exist).
            foreach (var name in program.Norms)
            {
                switch (name)
                {
                    case nameof(input_layernorm): input_layernorm = Norm(name); break;
                    case nameof(post_attention_layernorm): post_attention_layernorm = Norm(name); break;
                    case nameof(pre_feedforward_layernorm): pre_feedforward_layernorm = Norm(name); break;
                    case nameof(post_feedforward_layernorm): post_feedforward_layernorm = Norm(name); break;
                    default: throw new InvalidOperationException($"the block program of {block.Placement} names a norm '{name}' that DecoderLayer does not have");
                }
            }
            if (spec.LayerScale)
            {
                attn_layer_scale = new Parameter(full(spec.Hidden, spec.LayerScaleInit));
                mlp_layer_scale = new Parameter(full(spec.Hidden, spec.LayerScaleInit));
                register_parameter(nameof(attn_layer_scale), attn_layer_scale);
                register_parameter(nameof(mlp_layer_scale), mlp_layer_scale);
            }
            foreach (var name in program.Connections)
            {
                var hc = new HyperConnectionWeights(name, spec.HyperStreams, spec.Hidden, spec.HyperManifold);
                register_module(name, hc);
                if (name == nameof(attn_hc)) attn_hc = hc; else mlp_hc = hc;
            }
            if (spec.ResidualGate == ResidualGate.Scalar)
            {
                attn_gate = new Parameter(full(1, spec.ResidualGateInit));
                mlp_gate = new Parameter(full(1, spec.ResidualGateInit));
                register_parameter(nameof(attn_gate), attn_gate);
                register_parameter(nameof(mlp_gate), mlp_gate);
            }
        }
    }
}
