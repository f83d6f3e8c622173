using LnsDsl;

namespace MyModels;

/// <summary>
/// A small decoder-only language model with LayerNorm Scaling (Sun et al. 2025, "The Curse of Depth in Large Language
/// Models"): Pre-LN blocks whose norm outputs are multiplied by 1/sqrt(l) at block l. The source generator writes the
/// TorchSharp module, its initialisation and its spec (MyModel.Architecture) from these attributes while you type;
/// 'dotnet lnsrun describe MyModel' prints what each block computes.
/// </summary>
// The sizes: 6 blocks, a residual stream 128 wide, 4 attention heads, a SwiGLU feed-forward 384 wide, 8,192 token ids
// (lnsrun compacts its tokenizer to the model's vocabulary).
[TransformerModel(Layers = 6, Hidden = 128, Heads = 4, FeedForward = 384, Vocab = 8192)]
// Where the norms sit and how they scale with depth: Pre-LN with LayerNorm Scaling (RMSNorm by default). Try
// Kind.Post, Kind.Peri, Kind.Hybrid or Type = NormType.DyT; a combination the literature advises against is a warning.
[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
// Attention: rotary position embeddings with the usual base (QkNorm = true adds per-head query/key norms).
[Attention(Rope = true, RopeTheta = 10000)]
// Initialisation: N(0, 0.02) for every matrix. The paper finds that depth-scaled output initialisation
// (Output = OutputInit.ScaledByDepth) takes LNS's benefit away: LNS101 warns if you add it.
[Init(Std = 0.02)]
public partial class MyModel { }
