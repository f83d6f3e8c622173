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
