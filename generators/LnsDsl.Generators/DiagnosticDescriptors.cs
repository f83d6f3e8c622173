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
            "Head size Hidden / Heads = {0} is odd; RoPE rotates pairs of channels, so use an even head size or [Attention(Rope = false)]");

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

        public static readonly DiagnosticDescriptor LnsWithScaledInit = Warning("LNS101", Architecture,
            "LayerNorm Scaling combined with depth-scaled initialisation",
            "Scale = {0} is combined with Output = OutputInit.{1}: the paper (Sun et al. 2025, Sec. 5) finds that scaled initialisation diminishes LNS's benefit; use OutputInit.Plain with LNS");

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
    }
}
