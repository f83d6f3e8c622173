using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace LnsDsl.Generators
{
    /// <summary>
    /// Every diagnostic LnsDsl reports. IDs: LNS0xx errors (nothing sensible can be generated),
    /// LNS1xx warnings (legal but contradicted by the literature), LNS2xx information.
    /// Each has a help page at docs/diagnostics/{ID}.md.
    /// </summary>
    public static class DiagnosticDescriptors
    {
        public const string HelpLinkBase = "https://github.com/lnsdsl/lnsdsl/blob/main/docs/diagnostics/";
        private const string Usage = "LnsDsl.Usage";
        private const string Architecture = "LnsDsl.Architecture";

        public static readonly DiagnosticDescriptor NotPartial = Error("LNS001", Usage,
            "Model class must be partial",
            "Model class '{0}' must be declared 'partial' so that LnsDsl can generate its module");

        public static readonly DiagnosticDescriptor ContainingTypeNotPartial = Error("LNS002", Usage,
            "Type containing a model must be partial",
            "Type '{0}' contains the model '{1}' and must be declared 'partial'");

        public static readonly DiagnosticDescriptor Generic = Error("LNS003", Usage,
            "Model class cannot be generic",
            "Model '{0}' is generic or nested in a generic type; declare it as a non-generic class");

        public static readonly DiagnosticDescriptor NonPositiveSize = Error("LNS004", Architecture,
            "Model size must be positive",
            "{0} = {1} is not positive; every size of [TransformerModel] must be at least 1");

        public static readonly DiagnosticDescriptor HiddenNotDivisibleByHeads = Error("LNS005", Architecture,
            "Hidden must be divisible by Heads",
            "Hidden = {0} is not divisible by Heads = {1}; the head size would not be an integer");

        public static readonly DiagnosticDescriptor HeadsNotDivisibleByKvHeads = Error("LNS006", Architecture,
            "Heads must be divisible by KvHeads",
            "Heads = {0} is not divisible by KvHeads = {1}; each key/value head must serve the same number of query heads");

        public static readonly DiagnosticDescriptor OddHeadDimWithRope = Error("LNS007", Architecture,
            "Rotary embeddings need an even head size",
            "Head size {0} is odd; RoPE rotates pairs of channels, so use an even head size or [Attention(Rope = false)]");

        public static readonly DiagnosticDescriptor MixPostLayersOutOfRange = Error("LNS008", Architecture,
            "Mix-LN needs 0 < PostLayers < Layers",
            "Mix-LN needs 0 < PostLayers < Layers, got PostLayers = {0} with Layers = {1} (the paper uses Layers / 4 = {2})");

        public static readonly DiagnosticDescriptor ValueOutOfRange = Error("LNS009", Usage,
            "Argument out of range",
            "{0} = {1} is out of range: {2}");

        public static readonly DiagnosticDescriptor ModelHasBaseType = Error("LNS010", Usage,
            "Model class cannot declare a base class",
            "Model class '{0}' declares the base class '{1}'; generated models derive from LnsDsl.TransformerModule, remove the base class");

        public static readonly DiagnosticDescriptor UnknownEnumValue = Error("LNS011", Usage,
            "Unknown enum value",
            "{0} = {1} is not a defined {2} value");

        public static readonly DiagnosticDescriptor MissingSize = Error("LNS012", Usage,
            "Model size not given",
            "[TransformerModel] does not set {0}; Layers, Hidden, Heads, FeedForward and Vocab are required");

        public static readonly DiagnosticDescriptor DslAttributeWithoutModel = Error("LNS013", Usage,
            "DSL attribute without [TransformerModel]",
            "[{0}] has no effect on '{1}' without [TransformerModel]; add [TransformerModel(...)] or remove [{0}]");

        public static readonly DiagnosticDescriptor SizeTooLarge = Error("LNS014", Architecture,
            "Model size beyond the supported bound",
            "{0} = {1} exceeds the supported bound {2}; such a model cannot be built in memory, check the value");

        public static readonly DiagnosticDescriptor NotConstant = Error("LNS015", Usage,
            "Argument is not a constant of the expected type",
            "The argument for {0} is not a valid constant; LnsDsl reads attribute arguments at compile time, so use a literal or a const of the parameter's type");

        public static readonly DiagnosticDescriptor DuplicateAttribute = Error("LNS016", Usage,
            "DSL attribute given more than once",
            "[{0}] is applied more than once to '{1}' (possibly across partial declarations); keep one");

        public static readonly DiagnosticDescriptor RopeFreqFactorsOutOfOrder = Error("LNS017", Architecture,
            "Llama3 RoPE scaling needs RopeHighFreqFactor > RopeLowFreqFactor",
            "RopeHighFreqFactor = {0} is not greater than RopeLowFreqFactor = {1}; Llama3 RoPE scaling ramps between the two wavelengths they define (Llama 3.1: 4 and 1)");

        public static readonly DiagnosticDescriptor CompressedStreamNeedsPreLn = Error("LNS018", Architecture,
            "NormType.CRmsNorm needs a Pre-LN stream read only through norms",
            "NormType.CRmsNorm keeps the residual stream zero-mean in Hidden - 1 coordinates, exact only when every block is Pre-LN and nothing else reads or rescales the stream, but {0}; use Kind.Pre without it, or NormType.RmsNormBias");

        public static readonly DiagnosticDescriptor HyperConnectionsNeedResidualAdds = Error("LNS019", Architecture,
            "Hyper-connections need blocks whose residual add is x + F(x)",
            "[HyperConnections] replaces each residual add x + F(x) by H_res X + H_post^T F(H_pre X) over the streams, but {0}; use Kind.Pre, Kind.Peri, Kind.OutputNorm or Kind.None");

        public static readonly DiagnosticDescriptor UnconstrainedHyperConnections = Info("LNS204", Architecture,
            "Hyper-connections without the manifold constraint",
            "Manifold = false leaves the streams' mixing H_res unconstrained (the original hyper-connections), whose products over {0} blocks can amplify or shrink the residual signal without bound; mHC keeps it doubly stochastic: Manifold = true");

        public static readonly DiagnosticDescriptor LnsWithScaledInit = Warning("LNS101", Architecture,
            "LayerNorm Scaling combined with depth-scaled initialisation",
            "Scale = {0} is combined with Output = OutputInit.{1}: the paper (Sun et al. 2025, Sec. 5) finds that scaled initialisation diminishes LNS's benefit; use OutputInit.Plain with LNS");

        public static readonly DiagnosticDescriptor DeepNormWithScaledInit = Warning("LNS102", Architecture,
            "DeepNorm combined with depth-scaled initialisation",
            "DeepNorm already controls depth with alpha = (2L)^(1/4) and beta-scaled Xavier init; Output = OutputInit.{0} shrinks o_proj and down_proj a second time (two variance controls); use OutputInit.Plain");

        public static readonly DiagnosticDescriptor ScaleWithoutPreNorm = Warning("LNS103", Architecture,
            "Scale rule has no pre-norm to scale",
            "Scale = {0} has no effect on a {1} model: it scales the output of pre-norms, and {1} blocks have none; remove Scale or use Kind.Pre");

        public static readonly DiagnosticDescriptor ScalePartialOnMix = Warning("LNS104", Architecture,
            "Scale rule applies to part of a Mix-LN model",
            "Scale = {0} applies only to the Pre-LN blocks {1}..{2} of this Mix-LN model (with their global depth l); the Post-LN blocks 1..{3} are not scaled");

        public static readonly DiagnosticDescriptor PostLayersWithoutMix = Warning("LNS105", Usage,
            "PostLayers is only used by Mix-LN",
            "PostLayers = {0} has no effect with Kind.{1}; it counts the Post-LN blocks of Kind.Mix; remove it");

        public static readonly DiagnosticDescriptor DivergenceRisk = Warning("LNS106", Architecture,
            "Placement diverged at this depth in the paper",
            "{0} with {1} blocks of width {2}: the paper's {0} runs diverged at this scale ({3}); consider [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]");

        public static readonly DiagnosticDescriptor LayerScaleWithLns = Warning("LNS107", Architecture,
            "LayerScale combined with LayerNorm Scaling",
            "[LayerScale] and Scale = {0} both shrink the residual branches with depth (two depth-dependent gains); the paper compares them as alternatives, use one");

        public static readonly DiagnosticDescriptor AlphaBetaWithoutDeepNorm = Warning("LNS108", Usage,
            "Alpha and Beta are only used by DeepNorm",
            "{0} = {1} has no effect with Kind.{2}; Alpha and Beta configure Kind.DeepNorm; remove it");

        public static readonly DiagnosticDescriptor QkNormScopeWithoutQkNorm = Warning("LNS109", Usage,
            "QkNormScope is only used with QkNorm",
            "QkNormScope = QkNormScope.{0} has no effect without QkNorm = true; add QkNorm = true or remove QkNormScope");

        public static readonly DiagnosticDescriptor RopeScalingArgumentUnused = Warning("LNS110", Usage,
            "RoPE scaling argument has no effect",
            "{0} has no effect {1}; remove it or declare the scaling that uses it");

        public static readonly DiagnosticDescriptor NormFreeWithoutGate = Warning("LNS111", Architecture,
            "Blocks without norms and without a residual gate",
            "Kind.None leaves the blocks without norms, and nothing else bounds the residual stream; add [Residual(Gate = ResidualGate.Scalar)] (ReZero: x = x + g F(x), g initialised to 0) or use a norm placement");

        public static readonly DiagnosticDescriptor GateInitWithoutGate = Warning("LNS112", Usage,
            "GateInit without a residual gate",
            "GateInit = {0} has no effect without Gate = ResidualGate.Scalar; add the gate or remove GateInit");

        public static readonly DiagnosticDescriptor TanhAlphaWithoutDyT = Warning("LNS113", Usage,
            "A tanh-norm scalar on a model without DyT or BHyT norms",
            "{0} has no effect with Type = NormType.{1}; it initialises the learned scalar of NormType.DyT's (alpha) and NormType.BHyT's (lambda) norms; use one of those types or remove it");

        public static readonly DiagnosticDescriptor TwoDepthControls = Warning("LNS114", Architecture,
            "A depth rule for the residual branches combined with another depth control",
            "Rule = ResidualRule.{0} multiplies every branch by (L / BaseLayers)^-a and {1} also shrinks the branches with depth: two depth controls, compared as alternatives; use one");

        public static readonly DiagnosticDescriptor RuleWithScaledInit = Warning("LNS115", Architecture,
            "A depth rule for the residual branches with a depth-scaled output initialisation",
            "Rule = ResidualRule.{0} replaces the depth-scaled initialisation of o_proj and down_proj (its branch multiplier does that job; the paper initialises them with Std); Output = OutputInit.{1} shrinks them a second time; remove it");

        public static readonly DiagnosticDescriptor BaseLayersWithoutRule = Warning("LNS116", Usage,
            "BaseLayers without a depth rule",
            "BaseLayers = {0} has no effect without Rule = ResidualRule.DepthMuP or ResidualRule.CompleteP; add the rule or remove BaseLayers");

        public static readonly DiagnosticDescriptor TanhNormOnEmbedding = Warning("LNS117", Architecture,
            "A tanh norm on the embedding output",
            "EmbeddingNorm with Type = NormType.{0}: the embedding output is tiny (std about {1}) where tanh is linear, so {0} only multiplies it by a constant instead of normalising it; remove EmbeddingNorm or use an RMSNorm type");

        public static readonly DiagnosticDescriptor QkNormArgumentOnHybrid = Warning("LNS118", Usage,
            "QK-norm argument on a HybridNorm model",
            "{0} has no effect with Kind.Hybrid, which normalises q, k and v per head itself; remove it");

        public static readonly DiagnosticDescriptor HybridArgumentWithoutHybrid = Warning("LNS119", Usage,
            "FirstBlockPreNorm without HybridNorm",
            "FirstBlockPreNorm = true has no effect with Kind.{0}; it makes block 1 of a Kind.Hybrid model Pre-LN (HybridNorm*); use Kind.Hybrid or remove it");

        public static readonly DiagnosticDescriptor KappaWithoutBHyT = Warning("LNS120", Usage,
            "Kappa without BHyT norms",
            "Kappa = {0} has no effect with Type = NormType.{1}; it divides the RMS inside NormType.BHyT's tanh; use Type = NormType.BHyT or remove it");

        public static readonly DiagnosticDescriptor InvDepthTooAggressive = Info("LNS201", Architecture,
            "The 1/l scale rule is aggressive",
            "Scale = ScaleRule.InvDepth shrinks block {0}'s norm output to 1/{0}; the paper found 1/l too aggressive and recommends ScaleRule.InvSqrtDepth");

        public static readonly DiagnosticDescriptor DeepPreLnWithoutDepthControl = Info("LNS202", Architecture,
            "Deep Pre-LN model without depth control",
            "Pre-LN with {0} blocks and no depth control: this is the curse of depth (deep blocks collapse towards identity maps); add Scale = ScaleRule.InvSqrtDepth to [Norm]");

        public static readonly DiagnosticDescriptor PreLayerNormIsRmsNorm = Info("LNS203", Architecture,
            "Pre-LN with LayerNorm is Pre-RMSNorm in disguise",
            "Pre-LN with LayerNorm computes exactly the function of a Pre-RMSNorm model (RMSNorm with a bias, NormType.RmsNormBias) whose residual stream is made zero-mean (Jiang et al. 2023), and RMSNorm skips the mean: 'lnsrun convert {0} --checkpoint RUN --to rmsnorm' (or crmsnorm) converts a trained checkpoint exactly{1}");

        /// <summary>All descriptors by ID.</summary>
        public static readonly IReadOnlyDictionary<string, DiagnosticDescriptor> ById = typeof(DiagnosticDescriptors)
            .GetFields()
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null))
            .ToDictionary(d => d.Id);

        private static DiagnosticDescriptor Error(string id, string category, string title, string message)
            => new(id, title, message, category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpLinkBase + id + ".md");

        private static DiagnosticDescriptor Warning(string id, string category, string title, string message)
            => new(id, title, message, category, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: HelpLinkBase + id + ".md");

        private static DiagnosticDescriptor Info(string id, string category, string title, string message)
            => new(id, title, message, category, DiagnosticSeverity.Info, isEnabledByDefault: true, helpLinkUri: HelpLinkBase + id + ".md");
    }
}
