// The model zoo: each declaration below is expanded by the LnsDsl generator into a TorchSharp module.
// The paper's configurations (Sun et al. 2025, Table 1 and the public training scripts), vocab 32000 (T5 tokenizer).

// The zoo reproduces the paper's configurations, including those the analyzer warns about (Post-LN and
// Mix-LN at depths where they diverged, deep Pre-LN without depth control): they are the baselines.
#pragma warning disable LNS106, LNS202

namespace LnsDsl.Models
{
    // ---- the paper's LLaMA-130M: 12 blocks, width 768, FFN 2048, 12 heads, vocab 32000 ----

    /// <summary>Pre-LN (baseline); the paper's LLaMA-130M.</summary>
    [TransformerModel(Layers = 12, Hidden = 768, Heads = 12, FeedForward = 2048, Vocab = 32000)]
    [Norm(Kind.Pre)]
    public partial class PreLn130M { }

    /// <summary>Pre-LN + LayerNorm Scaling; the paper's LLaMA-130M.</summary>
    [TransformerModel(Layers = 12, Hidden = 768, Heads = 12, FeedForward = 2048, Vocab = 32000)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns130M { }

    /// <summary>Post-LN; the paper's LLaMA-130M.</summary>
    [TransformerModel(Layers = 12, Hidden = 768, Heads = 12, FeedForward = 2048, Vocab = 32000)]
    [Norm(Kind.Post)]
    public partial class PostLn130M { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; the paper's LLaMA-130M.</summary>
    [TransformerModel(Layers = 12, Hidden = 768, Heads = 12, FeedForward = 2048, Vocab = 32000)]
    [Norm(Kind.Mix, PostLayers = 3)]
    public partial class MixLn130M { }

    /// <summary>Peri-LN; the paper's LLaMA-130M.</summary>
    [TransformerModel(Layers = 12, Hidden = 768, Heads = 12, FeedForward = 2048, Vocab = 32000)]
    [Norm(Kind.Peri)]
    public partial class PeriLn130M { }

    /// <summary>DeepNorm; the paper's LLaMA-130M.</summary>
    [TransformerModel(Layers = 12, Hidden = 768, Heads = 12, FeedForward = 2048, Vocab = 32000)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm130M { }

    // ---- the paper's LLaMA-250M: 24 blocks, width 768, FFN 2560, 16 heads, vocab 32000 ----

    /// <summary>Pre-LN (baseline); the paper's LLaMA-250M.</summary>
    [TransformerModel(Layers = 24, Hidden = 768, Heads = 16, FeedForward = 2560, Vocab = 32000)]
    [Norm(Kind.Pre)]
    public partial class PreLn250M { }

    /// <summary>Pre-LN + LayerNorm Scaling; the paper's LLaMA-250M.</summary>
    [TransformerModel(Layers = 24, Hidden = 768, Heads = 16, FeedForward = 2560, Vocab = 32000)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns250M { }

    /// <summary>Post-LN; the paper's LLaMA-250M.</summary>
    [TransformerModel(Layers = 24, Hidden = 768, Heads = 16, FeedForward = 2560, Vocab = 32000)]
    [Norm(Kind.Post)]
    public partial class PostLn250M { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; the paper's LLaMA-250M.</summary>
    [TransformerModel(Layers = 24, Hidden = 768, Heads = 16, FeedForward = 2560, Vocab = 32000)]
    [Norm(Kind.Mix, PostLayers = 6)]
    public partial class MixLn250M { }

    /// <summary>Peri-LN; the paper's LLaMA-250M.</summary>
    [TransformerModel(Layers = 24, Hidden = 768, Heads = 16, FeedForward = 2560, Vocab = 32000)]
    [Norm(Kind.Peri)]
    public partial class PeriLn250M { }

    /// <summary>DeepNorm; the paper's LLaMA-250M.</summary>
    [TransformerModel(Layers = 24, Hidden = 768, Heads = 16, FeedForward = 2560, Vocab = 32000)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm250M { }

    // ---- the paper's LLaMA-350M: 24 blocks, width 1024, FFN 2736, 16 heads, vocab 32000 ----

    /// <summary>Pre-LN (baseline); the paper's LLaMA-350M.</summary>
    [TransformerModel(Layers = 24, Hidden = 1024, Heads = 16, FeedForward = 2736, Vocab = 32000)]
    [Norm(Kind.Pre)]
    public partial class PreLn350M { }

    /// <summary>Pre-LN + LayerNorm Scaling; the paper's LLaMA-350M.</summary>
    [TransformerModel(Layers = 24, Hidden = 1024, Heads = 16, FeedForward = 2736, Vocab = 32000)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns350M { }

    /// <summary>Post-LN; the paper's LLaMA-350M.</summary>
    [TransformerModel(Layers = 24, Hidden = 1024, Heads = 16, FeedForward = 2736, Vocab = 32000)]
    [Norm(Kind.Post)]
    public partial class PostLn350M { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; the paper's LLaMA-350M.</summary>
    [TransformerModel(Layers = 24, Hidden = 1024, Heads = 16, FeedForward = 2736, Vocab = 32000)]
    [Norm(Kind.Mix, PostLayers = 6)]
    public partial class MixLn350M { }

    /// <summary>Peri-LN; the paper's LLaMA-350M.</summary>
    [TransformerModel(Layers = 24, Hidden = 1024, Heads = 16, FeedForward = 2736, Vocab = 32000)]
    [Norm(Kind.Peri)]
    public partial class PeriLn350M { }

    /// <summary>DeepNorm; the paper's LLaMA-350M.</summary>
    [TransformerModel(Layers = 24, Hidden = 1024, Heads = 16, FeedForward = 2736, Vocab = 32000)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm350M { }

    // ---- the paper's LLaMA-1B: 24 blocks, width 2048, FFN 5461, 32 heads, vocab 32000 ----

    /// <summary>Pre-LN (baseline); the paper's LLaMA-1B.</summary>
    [TransformerModel(Layers = 24, Hidden = 2048, Heads = 32, FeedForward = 5461, Vocab = 32000)]
    [Norm(Kind.Pre)]
    public partial class PreLn1B { }

    /// <summary>Pre-LN + LayerNorm Scaling; the paper's LLaMA-1B.</summary>
    [TransformerModel(Layers = 24, Hidden = 2048, Heads = 32, FeedForward = 5461, Vocab = 32000)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns1B { }

    /// <summary>Post-LN; the paper's LLaMA-1B.</summary>
    [TransformerModel(Layers = 24, Hidden = 2048, Heads = 32, FeedForward = 5461, Vocab = 32000)]
    [Norm(Kind.Post)]
    public partial class PostLn1B { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; the paper's LLaMA-1B.</summary>
    [TransformerModel(Layers = 24, Hidden = 2048, Heads = 32, FeedForward = 5461, Vocab = 32000)]
    [Norm(Kind.Mix, PostLayers = 6)]
    public partial class MixLn1B { }

    /// <summary>Peri-LN; the paper's LLaMA-1B.</summary>
    [TransformerModel(Layers = 24, Hidden = 2048, Heads = 32, FeedForward = 5461, Vocab = 32000)]
    [Norm(Kind.Peri)]
    public partial class PeriLn1B { }

    /// <summary>DeepNorm; the paper's LLaMA-1B.</summary>
    [TransformerModel(Layers = 24, Hidden = 2048, Heads = 32, FeedForward = 5461, Vocab = 32000)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm1B { }

    // ---- LLaMA-7B (the paper's scaling run): 32 blocks, width 4096, FFN 11008, 32 heads, vocab 32000 ----

    /// <summary>Pre-LN (baseline); LLaMA-7B (the paper's scaling run).</summary>
    [TransformerModel(Layers = 32, Hidden = 4096, Heads = 32, FeedForward = 11008, Vocab = 32000)]
    [Norm(Kind.Pre)]
    public partial class PreLn7B { }

    /// <summary>Pre-LN + LayerNorm Scaling; LLaMA-7B (the paper's scaling run).</summary>
    [TransformerModel(Layers = 32, Hidden = 4096, Heads = 32, FeedForward = 11008, Vocab = 32000)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class Lns7B { }

    /// <summary>Post-LN; LLaMA-7B (the paper's scaling run).</summary>
    [TransformerModel(Layers = 32, Hidden = 4096, Heads = 32, FeedForward = 11008, Vocab = 32000)]
    [Norm(Kind.Post)]
    public partial class PostLn7B { }

    /// <summary>Mix-LN, Post-LN for the first L/4 blocks; LLaMA-7B (the paper's scaling run).</summary>
    [TransformerModel(Layers = 32, Hidden = 4096, Heads = 32, FeedForward = 11008, Vocab = 32000)]
    [Norm(Kind.Mix, PostLayers = 8)]
    public partial class MixLn7B { }

    /// <summary>Peri-LN; LLaMA-7B (the paper's scaling run).</summary>
    [TransformerModel(Layers = 32, Hidden = 4096, Heads = 32, FeedForward = 11008, Vocab = 32000)]
    [Norm(Kind.Peri)]
    public partial class PeriLn7B { }

    /// <summary>DeepNorm; LLaMA-7B (the paper's scaling run).</summary>
    [TransformerModel(Layers = 32, Hidden = 4096, Heads = 32, FeedForward = 11008, Vocab = 32000)]
    [Norm(Kind.DeepNorm)]
    public partial class DeepNorm7B { }
}
