// Also compiled into LnsDsl.Generators (linked in its .csproj): there LNSDSL_GENERATOR is defined and these
// types are internal. One owner for the placement facts: the generator resolves and labels blocks with them,
// the runtime (ModelSpec) labels specs with them.
using System;

namespace LnsDsl
{
    /// <summary>How one block wires its norms around its two residual branches (attention, MLP).</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum Placement
    {
        /// <summary><c>x = x + F(N(x) * s)</c>.</summary>
        PreLn,
        /// <summary><c>x = N(x + F(x))</c>.</summary>
        PostLn,
        /// <summary><c>x = x + N_out(F(N_in(x) * s))</c>.</summary>
        PeriLn,
        /// <summary><c>x = N(alpha * x + F(x))</c>.</summary>
        DeepNorm,
        /// <summary><c>x = x + N(F(x))</c> (OLMo-2).</summary>
        OutputNorm,
        /// <summary><c>x = x + F(x)</c>: no norm in the block (ReZero with a residual gate).</summary>
        NoNorm,
        /// <summary>HybridNorm: <c>h = x + Attn(x)</c> with q, k, v normalised inside attention; <c>z = N(h)</c>, <c>y = z + Mlp(z)</c>.</summary>
        Hybrid,
    }

    /// <summary>
    /// The placement facts of the architecture: which placement each block gets, the LNS factor, DeepNorm's
    /// defaults, and their human labels. The method: Sun et al. 2025, "The Curse of Depth in Large Language
    /// Models" (arXiv 2502.05795); see docs/METHOD.md.
    /// </summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    static class Placements
    {
        /// <summary>The placement of 1-based block <paramref name="l"/> of a <paramref name="kind"/> model
        /// (Mix-LN: Post-LN for <c>l &lt;= postLayers</c>, Pre-LN after; HybridNorm*: block 1 Pre-LN with
        /// <paramref name="firstBlockPreNorm"/>).</summary>
        public static Placement PlacementOf(Kind kind, int l, int postLayers, bool firstBlockPreNorm = false) => kind switch
        {
            Kind.Hybrid => firstBlockPreNorm && l == 1 ? Placement.PreLn : Placement.Hybrid,
            Kind.Pre => Placement.PreLn,
            Kind.Post => Placement.PostLn,
            Kind.Mix => l <= postLayers ? Placement.PostLn : Placement.PreLn,
            Kind.Peri => Placement.PeriLn,
            Kind.DeepNorm => Placement.DeepNorm,
            Kind.OutputNorm => Placement.OutputNorm,
            Kind.None => Placement.NoNorm,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };

        /// <summary>Whether blocks of <paramref name="placement"/> have pre-norms (the norms a scale rule scales).</summary>
        public static bool HasPreNorm(Placement placement) => placement is Placement.PreLn or Placement.PeriLn;

        /// <summary>The factor on the pre-norm output of 1-based block <paramref name="l"/>: 1/sqrt(l)
        /// (LayerNorm Scaling), 1/l, or 1.</summary>
        public static double ScaleFactor(ScaleRule rule, int l) => rule switch
        {
            ScaleRule.InvSqrtDepth => 1.0 / Math.Sqrt(l),
            ScaleRule.InvDepth => 1.0 / l,
            _ => 1.0,
        };

        /// <summary>The exponent <c>a</c> of a depth rule's branch multiplier <c>(L / base)^-a</c>: 1/2 (Depth-muP), 1 (CompleteP), 0.</summary>
        public static double RuleExponent(ResidualRule rule) => rule switch
        {
            ResidualRule.DepthMuP => 0.5,
            ResidualRule.CompleteP => 1.0,
            _ => 0.0,
        };

        /// <summary>The multiplier on every residual branch output under <paramref name="rule"/>: <c>(layers / baseLayers)^-a</c>.</summary>
        public static double BranchMultiplier(ResidualRule rule, int layers, int baseLayers)
            => rule == ResidualRule.None ? 1.0 : Math.Pow((double)layers / baseLayers, -RuleExponent(rule));

        /// <summary>The factor on the learning rate of the blocks' parameters under <paramref name="rule"/>:
        /// <c>(layers / baseLayers)^(a - 1)</c> (CompleteP's table; 1 for CompleteP itself). The embedding, final norm and head keep the base rate.</summary>
        public static double BlockLrScale(ResidualRule rule, int layers, int baseLayers)
            => rule == ResidualRule.None ? 1.0 : Math.Pow((double)layers / baseLayers, RuleExponent(rule) - 1);

        /// <summary>The factor on AdamW's eps for the blocks' parameters under <paramref name="rule"/>: <c>(layers / baseLayers)^-a</c>.</summary>
        public static double BlockEpsScale(ResidualRule rule, int layers, int baseLayers) => BranchMultiplier(rule, layers, baseLayers);

        /// <summary>DeepNorm's default residual multiplier for <paramref name="layers"/> blocks: <c>(2L)^(1/4)</c>.</summary>
        public static double DeepNormAlpha(int layers) => Math.Pow(2.0 * layers, 0.25);

        /// <summary>DeepNorm's default init gain for <paramref name="layers"/> blocks: <c>(8L)^(-1/4)</c>.</summary>
        public static double DeepNormBeta(int layers) => Math.Pow(8.0 * layers, -0.25);

        /// <summary>The label of one block's placement: "Pre-LN", "Post-LN", "Peri-LN", "DeepNorm".</summary>
        public static string Label(Placement placement) => placement switch
        {
            Placement.PreLn => "Pre-LN",
            Placement.PostLn => "Post-LN",
            Placement.PeriLn => "Peri-LN",
            Placement.DeepNorm => "DeepNorm",
            Placement.OutputNorm => "Output-LN",
            Placement.NoNorm => "Norm-free",
            Placement.Hybrid => "HybridNorm",
            _ => placement.ToString(),
        };

        /// <summary>
        /// The label of a model's placement and depth control, e.g. "Pre-LN + LNS", "Mix-LN (k=2) + LNS",
        /// "Pre-LN + 1/l", "Peri-LN + LayerScale". <paramref name="detailed"/> spells the Mix-LN split and the
        /// scale rule out (the generated model's summary): "Mix-LN (Post-LN blocks 1..2, Pre-LN after) + LNS (1/sqrt(l))",
        /// "Pre-LN + 1/l scaling".
        /// </summary>
        public static string Label(Kind kind, ScaleRule scale, int postLayers, bool layerScale, bool detailed = false, ResidualGate gate = ResidualGate.None,
            ResidualRule rule = ResidualRule.None, bool firstBlockPreNorm = false, int hyperStreams = 0, bool manifold = true)
        {
            string p = kind switch
            {
                Kind.Pre => "Pre-LN",
                Kind.Post => "Post-LN",
                Kind.Mix => detailed ? $"Mix-LN (Post-LN blocks 1..{postLayers}, Pre-LN after)" : $"Mix-LN (k={postLayers})",
                Kind.Peri => "Peri-LN",
                Kind.DeepNorm => "DeepNorm",
                Kind.OutputNorm => "Output-LN",
                Kind.None => "Norm-free",
                Kind.Hybrid => firstBlockPreNorm ? (detailed ? "HybridNorm* (block 1 Pre-LN)" : "HybridNorm*") : "HybridNorm",
                _ => kind.ToString(),
            };
            string s = scale switch
            {
                ScaleRule.InvSqrtDepth => detailed ? " + LNS (1/sqrt(l))" : " + LNS",
                ScaleRule.InvDepth => detailed ? " + 1/l scaling" : " + 1/l",
                _ => "",
            };
            string g = gate == ResidualGate.Scalar ? (kind == Kind.None ? " + ReZero gate" : " + SkipInit gate") : "";
            string r = rule switch
            {
                ResidualRule.DepthMuP => " + Depth-muP",
                ResidualRule.CompleteP => " + CompleteP",
                _ => "",
            };
            string hc = hyperStreams > 0 ? $" + {(manifold ? "mHC" : "HC")} (n={hyperStreams})" : "";
            return p + s + (layerScale ? " + LayerScale" : "") + g + r + hc;
        }
    }

    /// <summary>Facts about the norm types, shared by the generator and the runtime.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    static class Norms
    {
        /// <summary>Whether the block and final norms of <paramref name="type"/> have a bias (QK norms never do).</summary>
        public static bool HasBias(NormType type) => type is NormType.LayerNorm or NormType.RmsNormBias or NormType.CRmsNorm or NormType.DyT;

        /// <summary>BHyT's default initial lambda before attention and before the MLP (and at the final norm): the paper's
        /// first setting (lambda_in 2, lambda_post 1).</summary>
        public const double BHyTLambdaAttention = 2.0, BHyTLambdaMlp = 1.0;

        /// <summary>Whether a norm of <paramref name="type"/> has a learned scalar inside (DyT's alpha, BHyT's lambda; stored as <c>alpha</c>).</summary>
        public static bool HasAlpha(NormType type) => type is NormType.DyT or NormType.BHyT;

        /// <summary>The parameters of one norm of <paramref name="type"/> over <paramref name="size"/> channels.</summary>
        public static long ParameterCount(NormType type, long size) => (HasBias(type) ? 2 * size : size) + (HasAlpha(type) ? 1 : 0);

        /// <summary>Whether the gain is stored as <c>w</c> with the norm computing <c>1 + w</c> (initialised to 0).</summary>
        public static bool PlusOne(NormType type) => type == NormType.RmsNormPlusOne;

        /// <summary>The width of the residual stream: what the embedding, <c>o_proj</c> and <c>down_proj</c> write.
        /// <paramref name="hidden"/> except for <see cref="NormType.CRmsNorm"/>, which keeps <c>hidden - 1</c> coordinates.</summary>
        public static int StreamWidth(NormType type, int hidden) => type == NormType.CRmsNorm ? hidden - 1 : hidden;

        /// <summary>"RMSNorm", "LayerNorm", "RMSNorm (1 + w)", "RMSNorm + bias", "CRMSNorm".</summary>
        public static string Label(NormType type) => type switch
        {
            NormType.LayerNorm => "LayerNorm",
            NormType.RmsNormPlusOne => "RMSNorm (1 + w)",
            NormType.RmsNormBias => "RMSNorm + bias",
            NormType.CRmsNorm => "CRMSNorm",
            NormType.DyT => "DyT",
            NormType.BHyT => "BHyT",
            _ => "RMSNorm",
        };
    }

    /// <summary>Facts about hyper-connections (mHC), shared by the generator, the runtime and model.py.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    static class HyperConnections
    {
        /// <summary>Sinkhorn-Knopp iterations that make <c>H_res</c> doubly stochastic (mHC's t_max).</summary>
        public const int SinkhornIterations = 20;

        /// <summary>The initial value of the three gates alpha_pre, alpha_post, alpha_res on the dynamic (input-dependent) part.</summary>
        public const double GateInit = 0.01;

        /// <summary>The initial logit of each off-diagonal entry of <c>H_res</c> (the diagonal's is 0): close to the identity
        /// (after Sinkhorn about 0.95 on the diagonal for n = 4), so that streams stay apart until mixing is learned.</summary>
        public const double OffDiagonalInit = -4.0;

        /// <summary>The coefficients per token: <c>n</c> (pre) + <c>n</c> (post) + <c>n * n</c> (residual mixing).</summary>
        public static int Coefficients(int streams) => streams * (streams + 2);

        /// <summary>The parameters of one connection over <paramref name="streams"/> streams of <paramref name="hidden"/> channels:
        /// phi <c>[n * Hidden, n (n + 2)]</c>, bias <c>[n (n + 2)]</c>, alpha <c>[3]</c>.</summary>
        public static long ParameterCount(int streams, long hidden) => (streams * hidden + 1) * Coefficients(streams) + 3;

        /// <summary>Whether blocks of <paramref name="placement"/> can carry hyper-connections: each residual add is
        /// <c>x + branch(x)</c> with nothing applied to the sum (Pre-LN, Peri-LN, Output-LN, no norms).</summary>
        public static bool Supports(Placement placement) => placement is Placement.PreLn or Placement.PeriLn or Placement.OutputNorm or Placement.NoNorm;
    }

    /// <summary>Facts about attention, shared by the generator, the runtime, model.py and the unfused baseline.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    static class Attentions
    {
        /// <summary>Whether attention is written out (scores, soft-cap, mask, fp32 softmax) instead of fused
        /// scaled-dot-product attention: an attention soft-cap (none in SDPA) or a score scale other than HeadDim^-0.5
        /// (TorchSharp's SDPA takes none).</summary>
        public static bool Explicit(double softCap, int queryScaleDim) => softCap > 0 || queryScaleDim != 0;
    }

    /// <summary>Facts about the feed-forward activations, shared by the generator and the runtime.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    static class Activations
    {
        /// <summary>Whether <paramref name="activation"/> is gated: a fused <c>gate_up_proj</c> (gate rows first), else <c>up_proj</c>.</summary>
        public static bool IsGated(Activation activation) => activation is Activation.SwiGlu or Activation.Geglu or Activation.GegluTanh;

        /// <summary>"SwiGLU", "GELU", "GeGLU", "GeGLU (tanh)".</summary>
        public static string Label(Activation activation) => activation switch
        {
            Activation.SwiGlu => "SwiGLU",
            Activation.Gelu => "GELU",
            Activation.Geglu => "GeGLU",
            Activation.GegluTanh => "GeGLU (tanh)",
            _ => activation.ToString(),
        };
    }
}
