// Tiny models declared for the tests and expanded by the generator at build time, exactly as a user's would be.
// Four blocks, so that a 0-based depth index, a scaled final norm or a half-applied scale is visible.

namespace LnsDsl.Tests.Models
{
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre)]
    public partial class TinyPre { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class TinyLns { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvDepth)]
    public partial class TinyInvDepth { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Post)]
    public partial class TinyPost { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Mix, PostLayers = 2, Scale = ScaleRule.InvSqrtDepth)]
    public partial class TinyMixLns { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Peri, Scale = ScaleRule.InvSqrtDepth)]
    public partial class TinyPeriLns { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.DeepNorm)]
    public partial class TinyDeepNorm { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre)]
    [LayerScale(Init = 0.5)]
    public partial class TinyLayerScale { }

    /// <summary>ReZero: no norms in the blocks, each branch times a learned scalar that starts at 0.</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.None)]
    [Residual(Gate = ResidualGate.Scalar)]
    public partial class TinyReZero { }

    /// <summary>SkipInit on Pre-LN + LNS with LayerScale: norms kept, each branch times its gains and then a learned scalar.</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    [LayerScale(Init = 0.1)]
    [Residual(Gate = ResidualGate.Scalar, GateInit = 0.5)]
    public partial class TinySkipInitLns { }

    /// <summary>DyT on Pre-LN + LNS (the paper's LLaMA recipe's per-position alphas): weight * tanh(alpha x) + bias in every norm.</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Type = NormType.DyT, TanhAlpha = 0.8, TanhAlphaMlp = 0.2, TanhAlphaFinal = 0.3)]
    public partial class TinyDyTLns { }

    /// <summary>CompleteP on Pre-LN: every branch times (3 / 1)^-1, the output projections initialised with Std.</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre)]
    [Residual(Rule = ResidualRule.CompleteP)]
    public partial class TinyCompleteP { }

    /// <summary>Depth-muP on Peri-LN with a base depth of 2: every branch times (4 / 2)^-1/2.</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Peri)]
    [Residual(Rule = ResidualRule.DepthMuP, BaseLayers = 2)]
    public partial class TinyDepthMuPPeri { }

    /// <summary>BHyT on Pre-LN (the paper's lambdas 2 before attention, 1 before the MLP and final; kappa 10).</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Type = NormType.BHyT)]
    public partial class TinyBHyT { }

    /// <summary>BHyT + LNS with every lambda and kappa given.</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Type = NormType.BHyT, TanhAlpha = 3, TanhAlphaMlp = 1.5, TanhAlphaFinal = 0.7, Kappa = 4)]
    public partial class TinyBHyTLns { }

    /// <summary>HybridNorm: q, k, v normalised per head, the FFN's normalised input carried on; grouped-query attention.</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2)]
    [Norm(Kind.Hybrid)]
    public partial class TinyHybrid { }

    /// <summary>HybridNorm*: block 1 Pre-LN (with the QKV norms), the others HybridNorm.</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Hybrid, FirstBlockPreNorm = true)]
    public partial class TinyHybridStar { }

    /// <summary>mHC (4 streams, Sinkhorn-projected mixing) on Pre-LN + LNS.</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    [HyperConnections(Streams = 4)]
    public partial class TinyMhcLns { }

    /// <summary>Unconstrained hyper-connections (3 streams) on Peri-LN with a ReZero gate.</summary>
    [TransformerModel(Layers = 2, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Peri)]
    [Residual(Gate = ResidualGate.Scalar, GateInit = 0.5)]
    [HyperConnections(Streams = 3, Manifold = false)]
    public partial class TinyHcPeri { }

    /// <summary>DyT on Peri-LN with its embedding norm (every position's alpha, the output norms included).</summary>
    [TransformerModel(Layers = 2, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Peri, Type = NormType.DyT)]
    public partial class TinyDyTPeri { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2, TieEmbeddings = true)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class TinyGqaTied { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Type = NormType.LayerNorm, Eps = 1e-5)]
    [Attention(Rope = false, QkNorm = true)]
    [FeedForward(Activation.Gelu)]
    public partial class TinyLayerNormGelu { }

    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.DeepNorm, Alpha = 3.0, Beta = 0.5)]
    [Attention(RopeTheta = 500)]
    public partial class TinyDeepNormOverrides { }

    // Pre-LN with LayerNorm and its exact equivalents (lnsrun convert; docs/NORMS.md).

    /// <summary>Pre-LN + LNS with LayerNorm, GQA, SwiGLU and a bias on every projection (a forgotten output bias shows).</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Type = NormType.LayerNorm, Eps = 1e-5)]
    [Attention(QkvBias = true, OutputBias = true)]
    [FeedForward(Activation.SwiGlu, Bias = true)]
    public partial class TinyLayerNormSwiGluBiases { }

    /// <summary>Pre-LN with LayerNorm and a head tied to the embedding (converts only with --untie).</summary>
    [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, TieEmbeddings = true)]
    [Norm(Kind.Pre, Type = NormType.LayerNorm, Eps = 1e-5)]
    [FeedForward(Activation.Gelu)]
    public partial class TinyLayerNormTied { }

    /// <summary>Pre-RMSNorm with a bias, declared (not converted).</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Type = NormType.RmsNormBias, Eps = 1e-5)]
    [Attention(OutputBias = true)]
    public partial class TinyRmsNormBiasLns { }

    /// <summary>Pre-CRMSNorm, declared (not converted): the stream is 31 wide.</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Type = NormType.CRmsNorm, Eps = 1e-5)]
    [FeedForward(Activation.Gelu, Bias = true)]
    public partial class TinyCRmsNormLns { }

    // The vocabulary of imported Hugging Face checkpoints, one tiny model per family's combination.

    /// <summary>Explicit head size (Hidden 30 is not divisible by 4 heads; q has 4 x 10 rows), every bias, GeGLU, per-head QK norm.</summary>
    [TransformerModel(Layers = 4, Hidden = 30, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2, HeadDim = 10)]
    [Norm(Kind.Pre)]
    [Attention(QkvBias = true, OutputBias = true, QkNorm = true)]
    [FeedForward(Activation.Geglu, Bias = true)]
    public partial class TinyHeadDimBiases { }

    /// <summary>Qwen2-like: a bias on q/k/v only, linear RoPE scaling; with an ungated GELU MLP with biases and LNS.</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    [Attention(QkvBias = true, RopeTheta = 100, RopeScaling = RopeScaling.Linear, RopeFactor = 4)]
    [FeedForward(Activation.Gelu, Bias = true)]
    public partial class TinyQwen2Like { }

    /// <summary>OLMo-2-like: output norms only, QK norm over the whole projections, Llama3 RoPE scaling (theta 100 and
    /// original length 64 put the four frequencies of a head of 8 in all three bands).</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2)]
    [Norm(Kind.OutputNorm, Eps = 1e-5)]
    [Attention(QkNorm = true, QkNormScope = QkNormScope.Projection, RopeTheta = 100, RopeScaling = RopeScaling.Llama3,
        RopeFactor = 8, RopeLowFreqFactor = 1, RopeHighFreqFactor = 4, RopeOriginalMaxSeq = 64)]
    public partial class TinyOlmo2Like { }

    /// <summary>Gemma-2-like: explicit head size, scaled embeddings, Peri-LN's four norms without an embedding norm,
    /// Gemma's RMSNorm (1 + w), attention soft-cap and query scale, GeGLU (tanh), final logit soft-cap, tied head.</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61, KvHeads = 2, HeadDim = 16,
        ScaleEmbeddings = true, LogitSoftCap = 3.0, TieEmbeddings = true)]
    [Norm(Kind.Peri, Type = NormType.RmsNormPlusOne, EmbeddingNorm = false)]
    [Attention(SoftCap = 2.0, QueryScaleDim = 24)]
    [FeedForward(Activation.GegluTanh)]
    public partial class TinyGemma2Like { }

    /// <summary>Pre-LN with an embedding norm, Gemma's RMSNorm (1 + w) everywhere, per-head QK norms of the same kind.</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
    [Norm(Kind.Pre, Type = NormType.RmsNormPlusOne, EmbeddingNorm = true)]
    [Attention(QkNorm = true)]
    public partial class TinyPreEmbedNormPlusOne { }

    // Initialisation statistics need enough elements per matrix: o_proj is 256 x 256 = 65,536 draws.
    [TransformerModel(Layers = 8, Hidden = 256, Heads = 4, FeedForward = 512, Vocab = 64)]
    [Norm(Kind.Pre)]
    public partial class InitPlain { }

    [TransformerModel(Layers = 8, Hidden = 256, Heads = 4, FeedForward = 512, Vocab = 64)]
    [Norm(Kind.Pre)]
    [Init(Std = 0.03, EmbeddingStd = 0.5, Output = OutputInit.ScaledByDepth)]
    public partial class InitScaledByDepth { }

    [TransformerModel(Layers = 8, Hidden = 256, Heads = 4, FeedForward = 512, Vocab = 64)]
    [Norm(Kind.Pre)]
    [Init(Output = OutputInit.ScaledByLayer)]
    public partial class InitScaledByLayer { }

    [TransformerModel(Layers = 8, Hidden = 256, Heads = 4, FeedForward = 512, Vocab = 64)]
    [Norm(Kind.DeepNorm)]
    public partial class InitDeepNorm { }
}

namespace LnsDsl.Tests.Models
{
    /// <summary>For the runner's tests: the vocabulary of a compacted tokenizer of 257 ids (or the byte tokenizer).</summary>
    [TransformerModel(Layers = 2, Hidden = 32, Heads = 2, FeedForward = 64, Vocab = 257)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class TinyByteLns { }

    /// <summary>Depth-muP (base depth 1) at the runner's byte vocabulary: branch multiplier, block learning rates and
    /// block eps all (4 / 1)^-1/2 = 0.5, for the PyTorch hand-off of per-group rules.</summary>
    [TransformerModel(Layers = 4, Hidden = 32, Heads = 2, FeedForward = 64, Vocab = 257)]
    [Norm(Kind.Pre)]
    [Residual(Rule = ResidualRule.DepthMuP)]
    public partial class TinyByteDepthMuP { }

    /// <summary>The Post-LN twin of <see cref="TinyByteLns"/>, for comparisons.</summary>
    [TransformerModel(Layers = 2, Hidden = 32, Heads = 2, FeedForward = 64, Vocab = 257)]
    [Norm(Kind.Post)]
    public partial class TinyByteLnsPost { }

    /// <summary><see cref="TinyByteLns"/> with another RoPE base: the same parameter shapes, another function.</summary>
    [TransformerModel(Layers = 2, Hidden = 32, Heads = 2, FeedForward = 64, Vocab = 257)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    [Attention(RopeTheta = 500000)]
    public partial class TinyByteLnsTheta { }

    /// <summary><see cref="TinyByteLns"/> with another norm epsilon: the same parameter shapes, another function.</summary>
    [TransformerModel(Layers = 2, Hidden = 32, Heads = 2, FeedForward = 64, Vocab = 257)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Eps = 1e-5)]
    public partial class TinyByteLnsEps { }
}
