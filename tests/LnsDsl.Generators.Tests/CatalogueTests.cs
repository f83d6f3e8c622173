using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using LnsDsl.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace LnsDsl.Generators.Tests
{
    /// <summary>The warnings and information of the diagnostics catalogue, and its documentation.</summary>
    public sealed class CatalogueTests
    {
        private const string Usings = "using LnsDsl;\nnamespace Lab;\n";

        private static string Model(string attributes, int layers = 8, int hidden = 64)
            => Usings + $"[TransformerModel(Layers = {layers}, Hidden = {hidden}, Heads = 4, FeedForward = 128, Vocab = 100)]\n{attributes}\npublic partial class M {{ }}";

        public static IEnumerable<object[]> Cases() => new[]
        {
            // id, source, text at the location, a phrase of the message
            new object[] { "LNS102", Model("[Norm(Kind.DeepNorm)]\n[Init(Output = OutputInit.ScaledByDepth)]"), "Output = OutputInit.ScaledByDepth", "two variance controls" },
            new object[] { "LNS103", Model("[Norm(Kind.Post, Scale = ScaleRule.InvSqrtDepth)]"), "Scale = ScaleRule.InvSqrtDepth", "no effect on a Kind.Post model" },
            new object[] { "LNS103", Model("[Norm(Kind.DeepNorm, Scale = ScaleRule.InvSqrtDepth)]"), "Scale = ScaleRule.InvSqrtDepth", "no effect on a Kind.DeepNorm model" },
            new object[] { "LNS103", Model("[Norm(Kind.OutputNorm, Scale = ScaleRule.InvSqrtDepth)]"), "Scale = ScaleRule.InvSqrtDepth", "no effect on a Kind.OutputNorm model" },
            new object[] { "LNS103", Model("[Norm(Kind.None, Scale = ScaleRule.InvSqrtDepth)]\n[Residual(Gate = ResidualGate.Scalar)]"), "Scale = ScaleRule.InvSqrtDepth", "no effect on a Kind.None model" },
            new object[] { "LNS111", Model("[Norm(Kind.None)]"), "Kind.None", "nothing else bounds the residual stream" },
            new object[] { "LNS112", Model("[Residual(GateInit = 0.5)]"), "GateInit = 0.5", "GateInit = 0.5 has no effect without Gate = ResidualGate.Scalar" },
            new object[] { "LNS113", Model("[Norm(Kind.Pre, TanhAlpha = 0.8)]"), "TanhAlpha = 0.8", "TanhAlpha has no effect with Type = NormType.RmsNorm" },
            new object[] { "LNS113", Model("[Norm(Kind.Pre, TanhAlphaMlp = 2.0)]"), "TanhAlphaMlp = 2.0", "NormType.BHyT's (lambda)" },
            new object[] { "LNS114", Model("[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n[Residual(Rule = ResidualRule.CompleteP)]"), "Rule = ResidualRule.CompleteP", "Scale = ScaleRule.InvSqrtDepth (LNS) also shrinks the branches" },
            new object[] { "LNS114", Model("[Norm(Kind.DeepNorm)]\n[Residual(Rule = ResidualRule.DepthMuP, BaseLayers = 2)]"), "Rule = ResidualRule.DepthMuP", "DeepNorm's residual alpha" },
            new object[] { "LNS114", Model("[LayerScale]\n[Residual(Rule = ResidualRule.CompleteP)]"), "Rule = ResidualRule.CompleteP", "[LayerScale] also shrinks" },
            new object[] { "LNS115", Model("[Init(Output = OutputInit.ScaledByDepth)]\n[Residual(Rule = ResidualRule.CompleteP)]"), "Output = OutputInit.ScaledByDepth", "shrinks them a second time" },
            new object[] { "LNS116", Model("[Residual(BaseLayers = 4)]"), "BaseLayers = 4", "BaseLayers = 4 has no effect without Rule" },
            new object[] { "LNS117", Model("[Norm(Kind.Peri, Type = NormType.DyT)]"), "Type = NormType.DyT", "tanh is linear" },
            new object[] { "LNS117", Model("[Norm(Kind.Pre, Type = NormType.BHyT, EmbeddingNorm = true)]"), "EmbeddingNorm = true", "BHyT only multiplies it" },
            new object[] { "LNS118", Model("[Norm(Kind.Hybrid)]\n[Attention(QkNormScope = QkNormScope.Projection)]"), "QkNormScope = QkNormScope.Projection", "normalises q, k and v per head itself" },
            new object[] { "LNS119", Model("[Norm(Kind.Pre, FirstBlockPreNorm = true)]"), "FirstBlockPreNorm = true", "has no effect with Kind.Pre" },
            new object[] { "LNS120", Model("[Norm(Kind.Pre, Kappa = 5)]"), "Kappa = 5", "Kappa = 5 has no effect with Type = NormType.RmsNorm" },
            new object[] { "LNS103", Model("[Norm(Kind.Hybrid, Scale = ScaleRule.InvSqrtDepth)]"), "Scale = ScaleRule.InvSqrtDepth", "no effect on a Kind.Hybrid model" },
            new object[] { "LNS019", Model("[Norm(Kind.DeepNorm)]\n[HyperConnections(Streams = 4)]"), "HyperConnections(Streams = 4)", "Kind.DeepNorm scales the skip path by its alpha" },
            new object[] { "LNS019", Model("[Norm(Kind.Hybrid)]\n[HyperConnections]"), "HyperConnections", "Kind.Hybrid normalises the stream" },
            new object[] { "LNS009", Model("[HyperConnections(Streams = 1)]"), "Streams = 1", "it must be in [2, 16]" },
            new object[] { "LNS204", Model("[HyperConnections(Streams = 4, Manifold = false)]"), "Manifold = false", "doubly stochastic: Manifold = true" },
            new object[] { "LNS109", Model("[Attention(QkNormScope = QkNormScope.Projection)]"), "QkNormScope = QkNormScope.Projection", "has no effect without QkNorm = true" },
            new object[] { "LNS110", Model("[Attention(RopeFactor = 8)]"), "RopeFactor = 8", "RopeFactor has no effect with RopeScaling.None" },
            new object[] { "LNS110", Model("[Attention(RopeScaling = RopeScaling.Linear, RopeFactor = 2, RopeOriginalMaxSeq = 4096)]"), "RopeOriginalMaxSeq = 4096", "RopeOriginalMaxSeq has no effect with RopeScaling.Linear" },
            new object[] { "LNS110", Model("[Attention(Rope = false, RopeScaling = RopeScaling.Llama3)]"), "RopeScaling = RopeScaling.Llama3", "has no effect with Rope = false" },
            new object[] { "LNS104", Model("[Norm(Kind.Mix, PostLayers = 2, Scale = ScaleRule.InvSqrtDepth)]"), "Scale = ScaleRule.InvSqrtDepth", "Pre-LN blocks 3..8" },
            new object[] { "LNS105", Model("[Norm(Kind.Pre, PostLayers = 2)]"), "PostLayers = 2", "has no effect with Kind.Pre" },
            new object[] { "LNS106", Model("[Norm(Kind.Post)]", layers: 24), "Kind.Post", "Post-LN with 24 blocks" },
            new object[] { "LNS106", Model("[Norm(Kind.Mix, PostLayers = 6)]", layers: 24, hidden: 1024), "Kind.Mix", "Mix-LN with 24 blocks of width 1024" },
            new object[] { "LNS107", Model("[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n[LayerScale]"), "LayerScale", "two depth-dependent gains" },
            new object[] { "LNS108", Model("[Norm(Kind.Pre, Alpha = 2.0)]"), "Alpha = 2.0", "Alpha = 2 has no effect with Kind.Pre" },
            new object[] { "LNS201", Model("[Norm(Kind.Pre, Scale = ScaleRule.InvDepth)]"), "Scale = ScaleRule.InvDepth", "too aggressive" },
            new object[] { "LNS202", Model("[Norm(Kind.Pre)]", layers: 24), "Kind.Pre", "Pre-LN with 24 blocks and no depth control" },
            new object[] { "LNS202", Model("", layers: 32), "Layers = 32", "Pre-LN with 32 blocks" },
            new object[] { "LNS203", Model("[Norm(Kind.Pre, Type = NormType.LayerNorm)]"), "Type = NormType.LayerNorm", "lnsrun convert M --checkpoint RUN --to rmsnorm" },
            new object[] { "LNS203", Model("[Norm(Kind.Pre, Type = NormType.LayerNorm, Scale = ScaleRule.InvSqrtDepth)]"), "Type = NormType.LayerNorm", "converts a trained checkpoint exactly" },
            new object[] { "LNS013", Usings + "[Norm(Kind.Pre)]\npublic partial class NotAModel { }", "Norm(Kind.Pre)", "[Norm] has no effect on 'NotAModel'" },
            new object[] { "LNS014", Model("", layers: 5000), "Layers = 5000", "exceeds the supported bound 1024" },
            new object[] { "LNS015", Usings + "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = \"many\")]\npublic partial class M { }", "Vocab = \"many\"", "The argument for Vocab is not a valid constant" },
            new object[] { "LNS016", Usings + "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre)]\npublic partial class M { }\n[Norm(Kind.Post)]\npublic partial class M { }", "Norm(Kind.Post)", "[Norm] is applied more than once" },
        };

        [Theory]
        [MemberData(nameof(Cases))]
        public void Each_diagnostic_is_reported_once_at_its_argument(string id, string source, string locatedText, string phrase)
        {
            var result = GeneratorHarness.Run(source);
            var ours = result.Ours.Where(d => d.Id == id).ToList();
            var diagnostic = Assert.Single(ours);
            Assert.Equal(locatedText, source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
            Assert.Contains(phrase, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(DiagnosticDescriptors.ById[id].DefaultSeverity, diagnostic.Severity);
            // Every reported diagnostic is accounted for: no others of ours except the compiler's twin errors.
            Assert.All(result.Ours.Where(d => d.Id != id), d => Assert.Fail($"unexpected {d}"));
            if (diagnostic.Severity != DiagnosticSeverity.Error)
            {
                Assert.Single(result.Generated);
                Assert.Empty(result.CompileErrors);
            }
            else
            {
                Assert.Empty(result.Generated);
            }
        }

        [Fact]
        public void Good_declarations_get_no_diagnostics()
        {
            foreach (var source in new[]
                     {
                         Model("[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]", layers: 24),
                         Model("[Norm(Kind.Mix, PostLayers = 6)]", layers: 24),
                         Model("[Norm(Kind.DeepNorm, Alpha = 2.8284271247461903, Beta = 2.0)]", layers: 24),
                         Model("[Norm(Kind.Peri)]\n[LayerScale]", layers: 24),
                         Model("[Norm(Kind.Pre)]\n[Init(Output = OutputInit.ScaledByDepth)]", layers: 24),
                     })
                Assert.Empty(GeneratorHarness.Run(source).Ours);
        }

        private static string RepositoryRoot([CallerFilePath] string here = "")
            => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

        [Fact]
        public async System.Threading.Tasks.Task Editorconfig_style_severity_overrides_apply()
        {
            var source = Model("[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n[Init(Output = OutputInit.ScaledByDepth)]");
            var compilation = GeneratorHarness.Compilation(source);
            compilation = compilation.WithOptions(compilation.Options.WithSpecificDiagnosticOptions(
                compilation.Options.SpecificDiagnosticOptions.SetItem("LNS101", ReportDiagnostic.Error)));
            var reported = await compilation.WithAnalyzers(System.Collections.Immutable.ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer()))
                .GetAnalyzerDiagnosticsAsync();
            Assert.Equal(DiagnosticSeverity.Error, Assert.Single(reported, d => d.Id == "LNS101").Severity);
        }

        [Fact]
        public void Every_descriptor_has_a_help_page_and_a_release_entry()
        {
            string root = RepositoryRoot();
            string releases = File.ReadAllText(Path.Combine(root, "generators", "LnsDsl.Generators", "AnalyzerReleases.Unshipped.md"));
            string index = File.ReadAllText(Path.Combine(root, "docs", "diagnostics", "README.md"));
            Assert.True(DiagnosticDescriptors.ById.Count >= 26);
            foreach (var d in DiagnosticDescriptors.ById.Values)
            {
                string page = Path.Combine(root, "docs", "diagnostics", d.Id + ".md");
                Assert.True(File.Exists(page), $"{d.Id} has no help page {page}");
                Assert.Contains($"Severity: **{d.DefaultSeverity}**", File.ReadAllText(page));
                Assert.Contains($"{d.Id} | {d.Category} | {d.DefaultSeverity}", releases);
                Assert.Contains($"[{d.Id}]({d.Id}.md)", index);
                Assert.EndsWith($"docs/diagnostics/{d.Id}.md", d.HelpLinkUri);
                Assert.Equal(d.Id switch { [_, _, _, '0', ..] => DiagnosticSeverity.Error, [_, _, _, '1', ..] => DiagnosticSeverity.Warning, _ => DiagnosticSeverity.Info }, d.DefaultSeverity);
            }
        }
    }
}
