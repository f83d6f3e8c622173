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
