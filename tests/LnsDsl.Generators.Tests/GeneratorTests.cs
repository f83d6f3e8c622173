using System;
using System.Collections.Generic;
using System.Linq;
using LnsDsl.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace LnsDsl.Generators.Tests
{
    /// <summary>Snapshot, compilation and incrementality tests of the generator, and its diagnostics.</summary>
    public sealed class GeneratorTests
    {
        private const string Usings = "using LnsDsl;\nnamespace Lab;\n";

        public static IEnumerable<object[]> Declarations() => new Dictionary<string, string>
        {
            ["PreLn"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre)]\npublic partial class M { }",
            ["PreLnLns"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }",
            ["PreLnInvDepth"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvDepth)]\npublic partial class M { }",
            ["PostLn"] = "[TransformerModel(3, 64, 4, 128, 100)]\n[Norm(Kind.Post)]\npublic partial class M { }",
            ["MixLnLns"] = "[TransformerModel(Layers = 4, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Mix, PostLayers = 1, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }",
            ["PeriLn"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Peri, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }",
            ["DeepNorm"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.DeepNorm)]\npublic partial class M { }",
            ["LayerScale"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre)]\n[LayerScale(Init = 1e-4)]\npublic partial class M { }",
            ["GqaTied"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 8, FeedForward = 128, Vocab = 100, KvHeads = 2, TieEmbeddings = true, MaxSeq = 256)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }",
            ["LayerNormGeluQkNorm"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 256, Vocab = 100)]\n[Norm(Kind.Pre, Type = NormType.LayerNorm, Eps = 1e-5)]\n[Attention(Rope = false, QkNorm = true)]\n[FeedForward(Activation.Gelu)]\n[Init(Std = 0.01, Output = OutputInit.ScaledByLayer)]\npublic partial class M { }",
            // The vocabulary of imported Hugging Face checkpoints.
            ["HeadDimBiasesGeglu"] = "[TransformerModel(Layers = 2, Hidden = 60, Heads = 4, FeedForward = 128, Vocab = 100, KvHeads = 2, HeadDim = 16)]\n[Norm(Kind.Pre)]\n[Attention(QkvBias = true, OutputBias = true, QkNorm = true)]\n[FeedForward(Activation.Geglu, Bias = true)]\npublic partial class M { }",
            ["Qwen2Like"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, KvHeads = 2)]\n[Norm(Kind.Pre)]\n[Attention(QkvBias = true, RopeTheta = 1000000, RopeScaling = RopeScaling.Linear, RopeFactor = 4)]\npublic partial class M { }",
            ["Olmo2Like"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.OutputNorm, Eps = 1e-6)]\n[Attention(QkNorm = true, QkNormScope = QkNormScope.Projection, RopeTheta = 500000, RopeScaling = RopeScaling.Llama3, RopeFactor = 8, RopeLowFreqFactor = 1, RopeHighFreqFactor = 4, RopeOriginalMaxSeq = 8192)]\npublic partial class M { }",
            ["Gemma2Like"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, KvHeads = 2, HeadDim = 32, ScaleEmbeddings = true, LogitSoftCap = 30.0, TieEmbeddings = true)]\n[Norm(Kind.Peri, Type = NormType.RmsNormPlusOne, EmbeddingNorm = false)]\n[Attention(SoftCap = 50.0, QueryScaleDim = 64)]\n[FeedForward(Activation.GegluTanh)]\npublic partial class M { }",
            // Pre-RMSNorm and Pre-CRMSNorm, the exact equivalents of Pre-LN with LayerNorm (lnsrun convert).
            ["RmsNormBiasLns"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, KvHeads = 2)]\n[Norm(Kind.Pre, Type = NormType.RmsNormBias, Scale = ScaleRule.InvSqrtDepth, Eps = 1e-5)]\n[Attention(OutputBias = true)]\npublic partial class M { }",
            ["CRmsNormLns"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Type = NormType.CRmsNorm, Scale = ScaleRule.InvSqrtDepth, Eps = 1e-5)]\n[FeedForward(Activation.Gelu, Bias = true)]\npublic partial class M { }",
            // ReZero: no norms in the blocks, a scalar gate on each branch.
            ["ReZero"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.None)]\n[Residual(Gate = ResidualGate.Scalar)]\npublic partial class M { }",
            // DyT with the LLaMA recipe's per-position alphas.
            ["DyTLns"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth, Type = NormType.DyT, TanhAlpha = 0.8, TanhAlphaMlp = 0.2)]\npublic partial class M { }",
            // CompleteP: every branch times (L / BaseLayers)^-1, no depth factor in the init.
            ["CompleteP"] = "[TransformerModel(Layers = 4, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre)]\n[Residual(Rule = ResidualRule.CompleteP, BaseLayers = 2)]\npublic partial class M { }",
            // BHyT with the paper's default lambdas and kappa.
            ["BHyT"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Type = NormType.BHyT)]\npublic partial class M { }",
            // HybridNorm*: block 1 Pre-LN, then HybridNorm blocks; q, k and v normalised per head.
            ["HybridStar"] = "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Hybrid, FirstBlockPreNorm = true)]\npublic partial class M { }",
            // mHC: four residual streams, each branch a hyper-connection with Sinkhorn-projected mixing.
            ["Mhc"] = "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n[HyperConnections(Streams = 4)]\npublic partial class M { }",
            ["Nested"] = "public static partial class Outer\n{\n    [TransformerModel(Layers = 7, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n    internal partial class M { }\n}",
        }.Select(kv => new object[] { kv.Key, kv.Value });

        /// <summary>The generated source matches its snapshot and compiles against TorchSharp with no warning or error.</summary>
        [Theory]
        [MemberData(nameof(Declarations))]
        public void GeneratedSource(string name, string declaration)
        {
            var result = GeneratorHarness.Run(Usings + declaration);
            Assert.Empty(result.GeneratorDiagnostics);
            Assert.DoesNotContain(result.Ours, d => d.Severity == DiagnosticSeverity.Error);
            var compileDiagnostics = result.Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
            Assert.True(compileDiagnostics.Count == 0, string.Join("\n", compileDiagnostics));
            var (hint, source) = Assert.Single(result.Generated);
            Assert.EndsWith(".g.cs", hint);
            Snapshot.Match(source, name);
        }

        [Fact]
        public void Numbers_are_written_with_round_trip_precision_in_any_culture()
        {
            var previous = System.Globalization.CultureInfo.CurrentCulture;
            try
            {
                System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
                var result = GeneratorHarness.Run(Usings + "[TransformerModel(Layers = 7, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }");
                string source = result.Generated.Single().Source;
                string seventh = (1 / Math.Sqrt(7)).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal("0.3779644730092272", seventh);
                Assert.Contains($"x = PreLnBlock(layers[6], x, {seventh}D);", source);
                Assert.Empty(result.CompileErrors);
            }
            finally
            {
                System.Globalization.CultureInfo.CurrentCulture = previous;
            }
        }

        public static IEnumerable<object[]> Invalid() => new[]
        {
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic class M { }", "LNS001", "M", "Model class 'M' must be declared 'partial'" },
            new object[] { "public class Outer { [TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M { } }", "LNS002", "Outer", "Type 'Outer' contains the model 'M' and must be declared 'partial'" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M<T> { }", "LNS003", "M", "Model 'M' is generic" },
            new object[] { "[TransformerModel(Layers = 0, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M { }", "LNS004", "Layers = 0", "Layers = 0 is not positive" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = -1, Vocab = 100)]\npublic partial class M { }", "LNS004", "FeedForward = -1", "FeedForward = -1 is not positive" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 66, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M { }", "LNS005", "Hidden = 66", "Hidden = 66 is not divisible by Heads = 4" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, KvHeads = 3)]\npublic partial class M { }", "LNS006", "KvHeads = 3", "Heads = 4 is not divisible by KvHeads = 3" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 60, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M { }", "LNS007", "Hidden = 60", "Head size Hidden / Heads = 15 is odd" },
            new object[] { "[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Mix)]\npublic partial class M { }", "LNS008", "Kind.Mix", "got PostLayers = 0 with Layers = 8 (the paper uses Layers / 4 = 2)" },
            new object[] { "[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Mix, PostLayers = 8)]\npublic partial class M { }", "LNS008", "PostLayers = 8", "Mix-LN needs 0 < PostLayers < Layers" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Eps = 0)]\npublic partial class M { }", "LNS009", "Eps = 0", "Eps = 0 is out of range" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M : System.Exception { }", "LNS010", "System.Exception", "declares the base class 'System.Exception'" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm((Kind)9)]\npublic partial class M { }", "LNS011", "(Kind)9", "Kind = 9 is not a defined Kind value" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, HeadDim = -2)]\npublic partial class M { }", "LNS004", "HeadDim = -2", "HeadDim = -2 is not positive" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, HeadDim = 15)]\npublic partial class M { }", "LNS007", "HeadDim = 15", "Head size HeadDim = 15 is odd" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, LogitSoftCap = -30.0)]\npublic partial class M { }", "LNS009", "LogitSoftCap = -30.0", "LogitSoftCap = -30 is out of range: it must be finite and >= 0 (0 turns it off)" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Attention(SoftCap = -50.0)]\npublic partial class M { }", "LNS009", "SoftCap = -50.0", "SoftCap = -50 is out of range" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Attention(QueryScaleDim = -1)]\npublic partial class M { }", "LNS004", "QueryScaleDim = -1", "QueryScaleDim = -1 is not positive" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Attention(RopeScaling = RopeScaling.Linear, RopeFactor = 0)]\npublic partial class M { }", "LNS009", "RopeFactor = 0", "RopeFactor = 0 is out of range: it must be finite and > 0" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Attention(RopeScaling = RopeScaling.Llama3, RopeLowFreqFactor = -1)]\npublic partial class M { }", "LNS009", "RopeLowFreqFactor = -1", "RopeLowFreqFactor = -1 is out of range" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Attention(RopeScaling = RopeScaling.Llama3, RopeOriginalMaxSeq = 0)]\npublic partial class M { }", "LNS004", "RopeOriginalMaxSeq = 0", "RopeOriginalMaxSeq = 0 is not positive" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Attention(RopeScaling = RopeScaling.Llama3, RopeFactor = 8, RopeLowFreqFactor = 4, RopeHighFreqFactor = 4)]\npublic partial class M { }", "LNS017", "RopeHighFreqFactor = 4", "RopeHighFreqFactor = 4 is not greater than RopeLowFreqFactor = 4" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Post, Type = NormType.CRmsNorm)]\npublic partial class M { }", "LNS018", "Type = NormType.CRmsNorm", "but this model is Kind.Post" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100, TieEmbeddings = true)]\n[Norm(Kind.Pre, Type = NormType.CRmsNorm)]\npublic partial class M { }", "LNS018", "Type = NormType.CRmsNorm", "TieEmbeddings = true would make the head read the compressed embedding" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Type = NormType.CRmsNorm)]\n[LayerScale]\npublic partial class M { }", "LNS018", "Type = NormType.CRmsNorm", "[LayerScale] rescales each channel" },
            new object[] { "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128)]\npublic partial class M { }", "LNS012", "TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128)", "does not set Vocab" },
        };

        /// <summary>Each error names the problem at the offending argument, and nothing is generated.</summary>
        [Theory]
        [MemberData(nameof(Invalid))]
        public void Invalid_declarations_report_an_error_at_the_argument(string declaration, string id, string locatedText, string message)
        {
            string source = Usings + declaration;
            var result = GeneratorHarness.Run(source);
            var diagnostic = Assert.Single(result.Ours);
            Assert.Equal(id, diagnostic.Id);
            Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
            Assert.Contains(message, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(locatedText, source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
            Assert.StartsWith(DiagnosticDescriptors.HelpLinkBase, diagnostic.Descriptor.HelpLinkUri);
            Assert.Empty(result.Generated);
        }

        [Theory]
        [InlineData("Kind.Pre", "ScaledByDepth", true)]
        [InlineData("Kind.Pre", "ScaledByLayer", true)]
        [InlineData("Kind.Mix, PostLayers = 2", "ScaledByDepth", true)]
        [InlineData("Kind.Pre", "Plain", false)]
        [InlineData("Kind.Peri", "ScaledByDepth", false)]
        public void LNS_with_depth_scaled_init_warns_at_the_Output_argument(string kind, string output, bool warns)
        {
            string source = Usings + $"[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm({kind}, Scale = ScaleRule.InvSqrtDepth)]\n[Init(Output = OutputInit.{output})]\npublic partial class M {{ }}";
            var result = GeneratorHarness.Run(source);
            Assert.Single(result.Generated); // a warning never stops generation
            Assert.Empty(result.CompileErrors);
            if (!warns)
            {
                Assert.DoesNotContain(result.Ours, d => d.Id == "LNS101");
                return;
            }
            var diagnostic = Assert.Single(result.Ours, d => d.Id == "LNS101");
            Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
            Assert.Equal($"Output = OutputInit.{output}", source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length));
            Assert.Contains("diminishes LNS's benefit", diagnostic.GetMessage());
        }

        [Fact]
        public async System.Threading.Tasks.Task Pragma_suppresses_the_LNS_warning()
        {
            string source = Usings + "[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n#pragma warning disable LNS101\n[Init(Output = OutputInit.ScaledByDepth)]\n#pragma warning restore LNS101\npublic partial class M { }";
            var result = GeneratorHarness.Run(source);
            Assert.All(result.Ours, d => Assert.True(d.IsSuppressed || d.Id != "LNS101"));
            var compilation = result.Output.WithAnalyzers(System.Collections.Immutable.ImmutableArray.Create<Microsoft.CodeAnalysis.Diagnostics.DiagnosticAnalyzer>(new ModelAnalyzer()));
            var reported = await compilation.GetAnalyzerDiagnosticsAsync();
            Assert.DoesNotContain(reported, d => d.Id == "LNS101");
        }

        [Fact]
        public void Rerunning_and_unrelated_edits_reuse_every_cached_step()
        {
            string model = Usings + "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }";
            string other = Usings + "[TransformerModel(Layers = 3, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Post)]\npublic partial class N { }";
            var compilation = GeneratorHarness.Compilation(model, other, "public class Unrelated { }");
            var driver = GeneratorHarness.Driver().RunGenerators(compilation);

            // 1. The same compilation again: everything cached.
            driver = driver.RunGenerators(compilation.Clone());
            AssertSteps(driver, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);

            // 2. An unrelated edit: the models are not regenerated.
            var unrelated = compilation.SyntaxTrees.Last();
            var edited = compilation.ReplaceSyntaxTree(unrelated, CSharpSyntaxTree.ParseText("public class Unrelated { int x; }", GeneratorHarness.ParseOptions, unrelated.FilePath));
            driver = driver.RunGenerators(edited);
            AssertSteps(driver, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);

            // 3. Editing one model regenerates that model only.
            var first = edited.SyntaxTrees.First();
            var editedModel = edited.ReplaceSyntaxTree(first, CSharpSyntaxTree.ParseText(model.Replace("Layers = 2", "Layers = 5"), GeneratorHarness.ParseOptions, first.FilePath));
            driver = driver.RunGenerators(editedModel);
            var outputs = driver.GetRunResult().Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
            Assert.Equal(1, outputs.Count(r => r == IncrementalStepRunReason.Modified));
            Assert.Equal(1, outputs.Count(r => r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        }

        private static void AssertSteps(GeneratorDriver driver, params IncrementalStepRunReason[] allowed)
        {
            var run = driver.GetRunResult().Results.Single();
            foreach (var step in new[] { ModelGenerator.Steps.Parse, ModelGenerator.Steps.Model })
            {
                Assert.True(run.TrackedSteps.ContainsKey(step), $"step {step} is not tracked");
                foreach (var output in run.TrackedSteps[step].SelectMany(s => s.Outputs))
                    Assert.Contains(output.Reason, allowed);
            }
            foreach (var output in run.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs))
                Assert.Contains(output.Reason, allowed);
        }
    }
}
