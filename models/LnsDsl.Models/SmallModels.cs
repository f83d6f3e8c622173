// The model zoo: each declaration below is expanded by the LnsDsl generator into a TorchSharp module.
// A family sized for CPU experiments (head size 32, SwiGLU width ~8/3 x width, vocab 8192 for a compacted tokenizer).

// The zoo reproduces the paper's configurations, including those the analyzer warns about (Post-LN and
// Mix-LN at depths where they diverged, deep Pre-LN without depth control): they are the baselines.
#pragma warning disable LNS106, LNS202

namespace LnsDsl.Models
{
    // ---- CPU family: 6 blocks, width 128, FFN 384, 4 heads, vocab 8192 ----

    /// <summary>Pre-LN (baseline); CPU family.</summary>
    [TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre)]
    public partial class PreLn6x128 { }

    /// <summary>Pre-LN + LayerNorm Scaling; CPU family.</summary>
    [TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns6x128 { }

    /// <summary>Post-LN; CPU family.</summary>
    [TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Post)]
    public partial class PostLn6x128 { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; CPU family.</summary>
    [TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Mix, PostLayers = 1)]
    public partial class MixLn6x128 { }

    /// <summary>Peri-LN; CPU family.</summary>
    [TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Peri)]
    public partial class PeriLn6x128 { }

    /// <summary>DeepNorm; CPU family.</summary>
    [TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm6x128 { }

    /// <summary>Pre-LN + LNS with depth-scaled output init: the combination the paper warns against (kept to reproduce the caveat).</summary>
    [TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
#pragma warning disable LNS101 // deliberate: this model exists to measure the caveat
    [Init(Output = OutputInit.ScaledByDepth)]
#pragma warning restore LNS101
    public partial class LnsScaledInit6x128 { }

    // ---- CPU family: 12 blocks, width 128, FFN 384, 4 heads, vocab 8192 ----

    /// <summary>Pre-LN (baseline); CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre)]
    public partial class PreLn12x128 { }

    /// <summary>Pre-LN + LayerNorm Scaling; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns12x128 { }

    /// <summary>Post-LN; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Post)]
    public partial class PostLn12x128 { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Mix, PostLayers = 3)]
    public partial class MixLn12x128 { }

    /// <summary>Peri-LN; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Peri)]
    public partial class PeriLn12x128 { }

    /// <summary>DeepNorm; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm12x128 { }

    /// <summary>Pre-LN + LNS with depth-scaled output init: the combination the paper warns against (kept to reproduce the caveat).</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
#pragma warning disable LNS101 // deliberate: this model exists to measure the caveat
    [Init(Output = OutputInit.ScaledByDepth)]
#pragma warning restore LNS101
    public partial class LnsScaledInit12x128 { }

    // The 2025-26 rivals of LNS at the same size (lnsrun compare --preset rivals-12x128).

    /// <summary>ReZero: no norms in the blocks, a learned scalar gate on each branch starting at 0; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.None)]
    [Residual(Gate = ResidualGate.Scalar)]
    public partial class ReZero12x128 { }

    /// <summary>DyT in place of every norm, Pre-LN, the paper's LLM recipe of per-position alphas (its smallest, 7B); CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Type = NormType.DyT, TanhAlpha = 0.8, TanhAlphaMlp = 0.2)]
    public partial class DyT12x128 { }

    /// <summary>BHyT in place of every norm, Pre-LN, the paper's lambdas (2 before attention, 1 before the MLP and final) and kappa 10; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Type = NormType.BHyT)]
    public partial class BHyT12x128 { }

    /// <summary>Depth-muP on Pre-LN from a base depth of 2: branches x (12 / 2)^-1/2, block learning rates and eps x the same; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre)]
    [Residual(Rule = ResidualRule.DepthMuP, BaseLayers = 2)]
    public partial class DepthMuP12x128 { }

    /// <summary>CompleteP on Pre-LN from a base depth of 2: branches x (12 / 2)^-1, block eps x the same, learning rates unchanged; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre)]
    [Residual(Rule = ResidualRule.CompleteP, BaseLayers = 2)]
    public partial class CompleteP12x128 { }

    /// <summary>HybridNorm: q, k, v normalised per head, the FFN's normalised input carried on the stream; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Hybrid)]
    public partial class HybridNorm12x128 { }

    /// <summary>mHC on Pre-LN: 4 residual streams, every branch a hyper-connection with doubly stochastic mixing; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre)]
    [HyperConnections(Streams = 4)]
    public partial class Mhc12x128 { }

    // ---- CPU family: 24 blocks, width 128, FFN 384, 4 heads, vocab 8192 ----

    /// <summary>Pre-LN (baseline); CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre)]
    public partial class PreLn24x128 { }

    /// <summary>Pre-LN + LayerNorm Scaling; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns24x128 { }

    /// <summary>Post-LN; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Post)]
    public partial class PostLn24x128 { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Mix, PostLayers = 6)]
    public partial class MixLn24x128 { }

    /// <summary>Peri-LN; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Peri)]
    public partial class PeriLn24x128 { }

    /// <summary>DeepNorm; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm24x128 { }

    /// <summary>Pre-LN + LNS with depth-scaled output init: the combination the paper warns against (kept to reproduce the caveat).</summary>
    [TransformerModel(Layers = 24, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
#pragma warning disable LNS101 // deliberate: this model exists to measure the caveat
    [Init(Output = OutputInit.ScaledByDepth)]
#pragma warning restore LNS101
    public partial class LnsScaledInit24x128 { }

    // ---- CPU family: 12 blocks, width 256, FFN 704, 8 heads, vocab 8192 ----

    /// <summary>Pre-LN (baseline); CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Pre)]
    public partial class PreLn12x256 { }

    /// <summary>Pre-LN + LayerNorm Scaling; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns12x256 { }

    /// <summary>Post-LN; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Post)]
    public partial class PostLn12x256 { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Mix, PostLayers = 3)]
    public partial class MixLn12x256 { }

    /// <summary>Peri-LN; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Peri)]
    public partial class PeriLn12x256 { }

    /// <summary>DeepNorm; CPU family.</summary>
    [TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm12x256 { }

    /// <summary>Pre-LN + LNS with depth-scaled output init: the combination the paper warns against (kept to reproduce the caveat).</summary>
    [TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
#pragma warning disable LNS101 // deliberate: this model exists to measure the caveat
    [Init(Output = OutputInit.ScaledByDepth)]
#pragma warning restore LNS101
    public partial class LnsScaledInit12x256 { }

    // ---- CPU family: 24 blocks, width 256, FFN 704, 8 heads, vocab 8192 ----

    /// <summary>Pre-LN (baseline); CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Pre)]
    public partial class PreLn24x256 { }

    /// <summary>Pre-LN + LayerNorm Scaling; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns24x256 { }

    /// <summary>Post-LN; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Post)]
    public partial class PostLn24x256 { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Mix, PostLayers = 6)]
    public partial class MixLn24x256 { }

    /// <summary>Peri-LN; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Peri)]
    public partial class PeriLn24x256 { }

    /// <summary>DeepNorm; CPU family.</summary>
    [TransformerModel(Layers = 24, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm24x256 { }

    /// <summary>Pre-LN + LNS with depth-scaled output init: the combination the paper warns against (kept to reproduce the caveat).</summary>
    [TransformerModel(Layers = 24, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
#pragma warning disable LNS101 // deliberate: this model exists to measure the caveat
    [Init(Output = OutputInit.ScaledByDepth)]
#pragma warning restore LNS101
    public partial class LnsScaledInit24x256 { }
}
