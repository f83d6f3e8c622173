using LnsDsl;

namespace Sample;

/// <summary>The paper's method: Pre-LN with LayerNorm Scaling.</summary>
[TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
public partial class Lns12 { }

/// <summary>Mix-LN as in the paper: Post-LN for the first quarter of the blocks.</summary>
[TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
[Norm(Kind.Mix, PostLayers = 3)]
public partial class Mix12 { }

/// <summary>Deliberately conflicting: LNS with depth-scaled initialisation (the paper's caveat).</summary>
[TransformerModel(Layers = 12, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]
[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
[Init(Output = OutputInit.ScaledByDepth)]
public partial class Conflicting { }
