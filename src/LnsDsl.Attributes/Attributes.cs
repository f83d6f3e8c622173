// Also compiled into LnsDsl.Generators (linked in its .csproj, as System.Text.Json's generator links its
// attribute sources): there LNSDSL_GENERATOR is defined and these types are internal, so that the generator
// reads arguments with the real enums and nameof(...) and no copy can drift from the DSL.
using System;
using System.Diagnostics;

namespace LnsDsl
{
    /// <summary>
    /// Declares a decoder-only transformer language model. Put it on a <c>partial class</c>; the LnsDsl
    /// source generator emits the TorchSharp module, its initialisation and a static architecture spec.
    /// </summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class TransformerModelAttribute : Attribute
    {
        /// <summary>For the named form: <c>[TransformerModel(Layers = 12, Hidden = 768, Heads = 12, FeedForward = 2048, Vocab = 32000)]</c>.
        /// All five sizes are required; the generator reports LNS012 for a missing one.</summary>
        public TransformerModelAttribute()
        {
        }

        /// <param name="layers">Number of decoder blocks L.</param>
        /// <param name="hidden">Residual stream width.</param>
        /// <param name="heads">Number of query heads.</param>
        /// <param name="feedForward">Feed-forward inner width.</param>
        /// <param name="vocab">Vocabulary size.</param>
        public TransformerModelAttribute(int layers, int hidden, int heads, int feedForward, int vocab)
        {
            Layers = layers;
            Hidden = hidden;
            Heads = heads;
            FeedForward = feedForward;
            Vocab = vocab;
        }

        /// <summary>Number of decoder blocks L.</summary>
        public int Layers { get; set; }
        /// <summary>Residual stream width.</summary>
        public int Hidden { get; set; }
        /// <summary>Number of query heads.</summary>
        public int Heads { get; set; }
        /// <summary>Feed-forward inner width.</summary>
        public int FeedForward { get; set; }
        /// <summary>Vocabulary size.</summary>
        public int Vocab { get; set; }
        /// <summary>Key/value heads (grouped-query attention). Default: <see cref="Heads"/>.</summary>
        public int KvHeads { get; set; }
        /// <summary>Longest sequence the rotary tables cover. Default 2048.</summary>
        public int MaxSeq { get; set; } = 2048;
        /// <summary>Share the embedding matrix with the output head. Default false (the paper's models are untied).</summary>
        public bool TieEmbeddings { get; set; }
        /// <summary>Size of each attention head. Default 0: <c>Hidden / Heads</c> (then Hidden must be divisible by Heads).
        /// Given, the q projection has <c>Heads * HeadDim</c> rows and <c>o_proj</c> as many inputs, whatever Hidden is
        /// (Qwen3, Gemma-2).</summary>
        public int HeadDim { get; set; }
        /// <summary>Multiply the embedding output by <c>sqrt(Hidden)</c> (the factor rounded to the activation dtype first;
        /// Gemma). Default false.</summary>
        public bool ScaleEmbeddings { get; set; }
        /// <summary>Soft-cap the final logits: <c>tanh(z / cap) * cap</c> (Gemma-2's <c>final_logit_softcapping</c>).
        /// Default 0: off.</summary>
        public double LogitSoftCap { get; set; }
    }

    /// <summary>Normalisation placement, type and depth scaling.</summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class NormAttribute : Attribute
    {
        /// <param name="kind">Placement of the norms.</param>
        public NormAttribute(Kind kind) => Kind = kind;

        /// <summary>Placement of the norms.</summary>
        public Kind Kind { get; }
        /// <summary>Depth scaling of each pre-norm's output. <see cref="ScaleRule.InvSqrtDepth"/> is LayerNorm Scaling.</summary>
        public ScaleRule Scale { get; set; }
        /// <summary>RMSNorm (default) or LayerNorm.</summary>
        public NormType Type { get; set; }
        /// <summary>Epsilon inside the norm. Default 1e-6.</summary>
        public double Eps { get; set; } = 1e-6;
        /// <summary>Mix-LN only: the number of leading Post-LN blocks (0 &lt; PostLayers &lt; Layers).</summary>
        public int PostLayers { get; set; }
        /// <summary>DeepNorm only: residual multiplier. Default <c>(2L)^(1/4)</c>.</summary>
        public double Alpha { get; set; }
        /// <summary>DeepNorm only: Xavier gain of v, o and MLP projections. Default <c>(8L)^(-1/4)</c>.</summary>
        public double Beta { get; set; }
        /// <summary>Normalise the embedding output (<c>embed_norm</c>). Not given: true for <see cref="LnsDsl.Kind.Peri"/>,
        /// false otherwise (the generator reads whether it is written: an attribute property cannot be <c>bool?</c>).
        /// <c>[Norm(Kind.Peri, EmbeddingNorm = false)]</c> declares Gemma-2's four block norms without an embedding norm.</summary>
        public bool EmbeddingNorm { get; set; }
        /// <summary>DyT: the initial alpha of the norms at the attention position (and of all, unless the next two are given).</summary>
        public double TanhAlpha { get; set; } = 0.5;
        /// <summary>DyT: the initial alpha of the norms at the MLP position (0: TanhAlpha).</summary>
        public double TanhAlphaMlp { get; set; }
        /// <summary>DyT: the initial alpha of the final norm and the embedding norm (0: TanhAlphaMlp).</summary>
        public double TanhAlphaFinal { get; set; }
        /// <summary>BHyT: the constant kappa dividing the RMS inside the tanh. Default 10.</summary>
        public double Kappa { get; set; } = 10;
        /// <summary>Kind.Hybrid: block 1 is Pre-LN (with the QKV norms), the others HybridNorm (HybridNorm*). Default false.</summary>
        public bool FirstBlockPreNorm { get; set; }
    }

    /// <summary>Attention options.</summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class AttentionAttribute : Attribute
    {
        /// <summary>Rotary position embeddings (rotate_half convention). Default true.</summary>
        public bool Rope { get; set; } = true;
        /// <summary>Rotary base. Default 10000.</summary>
        public double RopeTheta { get; set; } = 10000;
        /// <summary>Normalise queries and keys (after the projection, before RoPE) with the model's norm type and eps.
        /// Default false.</summary>
        public bool QkNorm { get; set; }
        /// <summary>What the QK norm normalises: each head's vector (<see cref="LnsDsl.QkNormScope.Head"/>, weights
        /// <c>[HeadDim]</c>, Qwen3) or the whole q and k projection outputs (<see cref="LnsDsl.QkNormScope.Projection"/>,
        /// weights <c>[Heads * HeadDim]</c> and <c>[KvHeads * HeadDim]</c>, OLMo-2). Needs <see cref="QkNorm"/>.</summary>
        public QkNormScope QkNormScope { get; set; }
        /// <summary>A bias on the fused q/k/v projection (<c>qkv_proj.bias</c>, rows as the weight's). Default false.</summary>
        public bool QkvBias { get; set; }
        /// <summary>A bias on the output projection (<c>o_proj.bias</c>). Default false.</summary>
        public bool OutputBias { get; set; }
        /// <summary>Attention score soft-capping <c>s = tanh(s / cap) * cap</c> before the mask and softmax (Gemma-2's
        /// <c>attn_logit_softcapping</c>). Default 0: off.</summary>
        public double SoftCap { get; set; }
        /// <summary>The scores are scaled by <c>QueryScaleDim^-0.5</c> (Gemma-2's <c>query_pre_attn_scalar</c>).
        /// Default 0: <c>HeadDim^-0.5</c>.</summary>
        public int QueryScaleDim { get; set; }
        /// <summary>Scaling of the rotary frequencies for long contexts (Hugging Face's <c>rope_scaling</c>). Default none.</summary>
        public RopeScaling RopeScaling { get; set; }
        /// <summary>Linear and Llama3 scaling: the factor the (low) frequencies are divided by. Default 1.</summary>
        public double RopeFactor { get; set; } = 1;
        /// <summary>Llama3 scaling: <c>low_freq_factor</c>. Default 1.</summary>
        public double RopeLowFreqFactor { get; set; } = 1;
        /// <summary>Llama3 scaling: <c>high_freq_factor</c>. Default 4.</summary>
        public double RopeHighFreqFactor { get; set; } = 4;
        /// <summary>Llama3 scaling: <c>original_max_position_embeddings</c>. Default 8192.</summary>
        public int RopeOriginalMaxSeq { get; set; } = 8192;
    }

    /// <summary>Feed-forward options.</summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class FeedForwardAttribute : Attribute
    {
        /// <param name="activation">The activation. Default SwiGLU.</param>
        public FeedForwardAttribute(Activation activation = Activation.SwiGlu) => Activation = activation;

        /// <summary>The activation.</summary>
        public Activation Activation { get; }
        /// <summary>Biases on the MLP projections (<c>gate_up_proj.bias</c> or <c>up_proj.bias</c>, and <c>down_proj.bias</c>).
        /// Default false.</summary>
        public bool Bias { get; set; }
    }

    /// <summary>Initialisation scheme.</summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class InitAttribute : Attribute
    {
        /// <summary>Std of every linear weight. Default 0.02.</summary>
        public double Std { get; set; } = 0.02;
        /// <summary>Std of the embedding table. Default: <see cref="Std"/>.</summary>
        public double EmbeddingStd { get; set; }
        /// <summary>Scaling of the residual output projections.</summary>
        public OutputInit Output { get; set; }
    }

    /// <summary>Learnable per-channel gain on each residual branch output (CaiT's LayerScale).</summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class LayerScaleAttribute : Attribute
    {
        /// <summary>Initial value of every gain. Default 1e-4.</summary>
        public double Init { get; set; } = 1e-4;
    }

    /// <summary>
    /// Hyper-connections (Zhu et al. 2024) and their manifold-constrained form, mHC (DeepSeek 2025): the residual stream
    /// becomes <see cref="Streams"/> parallel streams <c>X</c> (<c>[n, Hidden]</c> per token, the embedding copied into
    /// each); every residual branch reads a learned mix of them and writes into all of them,
    /// <c>X' = H_res X + H_post^T F(H_pre X)</c>, with <c>H_pre</c>, <c>H_post</c> (<c>1 x n</c>) and <c>H_res</c> (<c>n x n</c>)
    /// computed per token from the RMS-normalised flattened streams; the head reads their sum. With
    /// <see cref="Manifold"/> (mHC) <c>H_res</c> is projected onto the doubly stochastic matrices by Sinkhorn iterations.
    /// Pre-style placements only (Pre-LN, Peri-LN, Output-LN, no norms): the others normalise the residual sum itself.
    /// </summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class HyperConnectionsAttribute : Attribute
    {
        /// <summary>The number of residual streams n (the expansion rate). Default 4.</summary>
        public int Streams { get; set; } = 4;
        /// <summary>mHC: keep <c>H_res</c> doubly stochastic (Sinkhorn-Knopp, 20 iterations). Default true; false is the
        /// unconstrained mixing of the original hyper-connections.</summary>
        public bool Manifold { get; set; } = true;
    }

    /// <summary>
    /// The residual branches' gate: <c>[Residual(Gate = ResidualGate.Scalar)]</c> multiplies each branch output by a
    /// learnable scalar initialised to <see cref="GateInit"/> (ReZero: with <c>[Norm(Kind.None)]</c>, Bachlechner et al.
    /// 2020; SkipInit: with norms, De and Smith 2020). Every block starts as the identity when GateInit is 0.
    /// </summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    [Conditional("LNSDSL_KEEP_ATTRIBUTES")]
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed class ResidualAttribute : Attribute
    {
        /// <summary>A learned gate on each branch output (ReZero, SkipInit).</summary>
        public ResidualGate Gate { get; set; }
        /// <summary>The gates' initial value. Default 0 (every block starts as the identity).</summary>
        public double GateInit { get; set; }
        /// <summary>A depth rule: each branch output times <c>(Layers / BaseLayers)^-a</c> (Depth-muP a = 1/2, CompleteP a = 1),
        /// the output projections initialised without a depth factor, and lnsrun train's per-group learning rates and AdamW
        /// eps of the rule.</summary>
        public ResidualRule Rule { get; set; }
        /// <summary>The depth the hyper-parameters were tuned at (the rule's base). Default 1: the multiplier is <c>L^-a</c>.</summary>
        public int BaseLayers { get; set; } = 1;
    }
}
