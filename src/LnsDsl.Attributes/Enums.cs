// Also compiled into LnsDsl.Generators (linked in its .csproj, as System.Text.Json's generator links its
// attribute sources): there LNSDSL_GENERATOR is defined and these types are internal, so that the generator
// reads arguments with the real enums and nameof(...) and no copy can drift from the DSL.
namespace LnsDsl
{
    /// <summary>Where the normalisation layers sit relative to each residual branch.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum Kind
    {
        /// <summary>Pre-LN: <c>x = x + F(N(x))</c>. The baseline of modern LLMs.</summary>
        Pre = 0,
        /// <summary>Post-LN: <c>x = N(x + F(x))</c>. The original transformer.</summary>
        Post = 1,
        /// <summary>Mix-LN: Post-LN for blocks <c>l &lt;= PostLayers</c>, Pre-LN for the rest.</summary>
        Mix = 2,
        /// <summary>Peri-LN: <c>x = x + N_out(F(N_in(x)))</c>, plus a norm on the embedding output.</summary>
        Peri = 3,
        /// <summary>DeepNorm (DeepNet): <c>x = N(alpha * x + F(x))</c> with beta-scaled Xavier init.</summary>
        DeepNorm = 4,
        /// <summary>Output norms only (OLMo-2): <c>x = x + N(F(x))</c>, no input norms.</summary>
        OutputNorm = 5,
        /// <summary>No norm in the blocks, <c>x = x + F(x)</c> (ReZero with <c>[Residual(Gate = ResidualGate.Scalar)]</c>);
        /// the final norm stays.</summary>
        None = 6,
        /// <summary>HybridNorm (Zhuo et al. 2025): q, k and v RMS-normalised per head inside attention, no norm before it,
        /// <c>h = x + Attn(x)</c>; the FFN's input normalised and that normalised value carried on,
        /// <c>z = N(h)</c>, <c>y = z + Mlp(z)</c>. <c>FirstBlockPreNorm</c> makes block 1 Pre-LN (HybridNorm*).</summary>
        Hybrid = 7,
    }

    /// <summary>A learned gate on each residual branch: <c>x = x + g * F(...)</c>.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum ResidualGate
    {
        /// <summary>No gate.</summary>
        None = 0,
        /// <summary>One learnable scalar per branch (ReZero, SkipInit), initialised to <c>GateInit</c> (0 by default).</summary>
        Scalar = 1,
    }
    /// <summary>A depth rule for the residual branches: every branch output times <c>(L / BaseLayers)^-a</c>, with the
    /// initialisation and the per-group AdamW rules that make hyper-parameters transfer across depth.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum ResidualRule
    {
        /// <summary>No depth rule (multiplier 1).</summary>
        None = 0,
        /// <summary>Depth-muP (Yang et al., Tensor Programs VI): <c>a = 1/2</c>; block learning rates and AdamW eps times
        /// <c>(L / BaseLayers)^-1/2</c>.</summary>
        DepthMuP = 1,
        /// <summary>CompleteP (Dey et al. 2025): <c>a = 1</c>; block learning rates unchanged, block AdamW eps times
        /// <c>(L / BaseLayers)^-1</c>.</summary>
        CompleteP = 2,
    }

    /// <summary>Depth-dependent factor applied to the output of each pre-norm of block <c>l</c> (1-based).</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum ScaleRule
    {
        /// <summary>No scaling (factor 1).</summary>
        None = 0,
        /// <summary>LayerNorm Scaling (LNS): factor <c>1/sqrt(l)</c>.</summary>
        InvSqrtDepth = 1,
        /// <summary>Factor <c>1/l</c> (discussed in the paper as too aggressive).</summary>
        InvDepth = 2,
    }

    /// <summary>The normalisation function.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum NormType
    {
        /// <summary><c>y = w * x * rsqrt(mean(x^2) + eps)</c>, statistics in fp32.</summary>
        RmsNorm = 0,
        /// <summary>Standard LayerNorm with weight and bias.</summary>
        LayerNorm = 1,
        /// <summary>Gemma's RMSNorm: <c>y = x * rsqrt(mean(x^2) + eps) * (1 + w)</c>, statistics in fp32; <c>w</c> initialised to 0.</summary>
        RmsNormPlusOne = 2,
        /// <summary>RMSNorm with a bias: <c>y = w * x * rsqrt(mean(x^2) + eps) + b</c>, statistics in fp32. On a zero-mean
        /// residual stream it is exactly a LayerNorm with the same <c>w</c>, <c>b</c> and eps (Pre-RMSNorm; docs/NORMS.md).</summary>
        RmsNormBias = 3,
        /// <summary>Compressed RMSNorm (Pre-CRMSNorm): the residual stream is zero-mean and kept in <c>Hidden - 1</c>
        /// coordinates (the last is minus the sum of the others); the norm restores it and normalises:
        /// <c>y = w * [x, -sum(x)] * rsqrt((sum(x^2) + sum(x)^2) / Hidden + eps) + b</c>, <c>Hidden</c> wide. The embedding,
        /// <c>o_proj</c> and <c>down_proj</c> write <c>Hidden - 1</c> coordinates. Pre-LN only (docs/NORMS.md).</summary>
        CRmsNorm = 4,
        /// <summary>Dynamic Tanh (Zhu et al. 2025): <c>weight * tanh(alpha * x) + bias</c>, alpha a learned scalar per norm,
        /// no statistics; initialised from <c>TanhAlpha</c>, <c>TanhAlphaMlp</c>, <c>TanhAlphaFinal</c>.</summary>
        DyT = 5,
        /// <summary>Bounded hyperbolic tanh (Byun et al. 2026): <c>weight * tanh(lambda * x / (kappa * rms(x)))</c>, lambda a
        /// learned scalar per norm, kappa a constant (<c>Kappa</c>, 10), <c>rms(x) = sqrt(mean(x^2) + eps)</c> in fp32; no bias.</summary>
        BHyT = 6,
    }

    /// <summary>Feed-forward activation.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum Activation
    {
        /// <summary><c>down(silu(gate(x)) * up(x))</c>.</summary>
        SwiGlu = 0,
        /// <summary><c>down(gelu(up(x)))</c>.</summary>
        Gelu = 1,
        /// <summary><c>down(gelu(gate(x)) * up(x))</c>, exact (erf) GELU, fused <c>gate_up_proj</c>.</summary>
        Geglu = 2,
        /// <summary><c>down(gelu_tanh(gate(x)) * up(x))</c>, tanh-approximate GELU (Gemma's <c>gelu_pytorch_tanh</c>).</summary>
        GegluTanh = 3,
    }

    /// <summary>What the QK norm normalises.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum QkNormScope
    {
        /// <summary>Each head's vector, weights <c>[HeadDim]</c> (Qwen3's <c>q_norm</c>/<c>k_norm</c>).</summary>
        Head = 0,
        /// <summary>The whole q and k projection outputs before the heads are split, weights <c>[Heads * HeadDim]</c>
        /// and <c>[KvHeads * HeadDim]</c> (OLMo-2).</summary>
        Projection = 1,
    }

    /// <summary>Scaling of the rotary frequencies (Hugging Face's <c>rope_scaling.rope_type</c>).</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum RopeScaling
    {
        /// <summary><c>inv_freq[j] = theta^(-2j/d)</c>.</summary>
        None = 0,
        /// <summary>Every frequency divided by <c>RopeFactor</c> (positions / factor).</summary>
        Linear = 1,
        /// <summary>Llama 3.1: low frequencies divided by <c>RopeFactor</c>, high ones kept, a smooth ramp between.</summary>
        Llama3 = 2,
    }

    /// <summary>Initialisation of the residual output projections (<c>o_proj</c>, <c>down_proj</c>).</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum OutputInit
    {
        /// <summary>Same std as every other linear weight.</summary>
        Plain = 0,
        /// <summary><c>Std / sqrt(2L)</c> (Megatron, GPT-2, nanoGPT, OLMo).</summary>
        ScaledByDepth = 1,
        /// <summary><c>Std / sqrt(2l)</c> for block <c>l</c> (torchtitan's depth init).</summary>
        ScaledByLayer = 2,
    }
}
