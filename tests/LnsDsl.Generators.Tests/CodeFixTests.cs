using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using LnsDsl.CodeFixes;
using LnsDsl.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace LnsDsl.Generators.Tests
{
    /// <summary>Each code fix, before and after, in a workspace (the Roslyn code-fix testing approach).</summary>
    public sealed class CodeFixTests
    {
        private const string Head = "using LnsDsl;\nnamespace Lab;\n";

        public static IEnumerable<object[]> Fixes() => new[]
        {
            new object[] { "LNS001",
                Head + "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic class M { }",
                Head + "[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M { }" },
            new object[] { "LNS101",
                Head + "[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n[Init(Std = 0.02, Output = OutputInit.ScaledByDepth)]\npublic partial class M { }",
                Head + "[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\n[Init(Std = 0.02, Output = OutputInit.Plain)]\npublic partial class M { }" },
            new object[] { "LNS105",
                Head + "[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, PostLayers = 2, Eps = 1e-5)]\npublic partial class M { }",
                Head + "[TransformerModel(Layers = 8, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Eps = 1e-5)]\npublic partial class M { }" },
            new object[] { "LNS202",
                Head + "[TransformerModel(Layers = 24, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre)]\npublic partial class M { }",
                Head + "[TransformerModel(Layers = 24, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }" },
            new object[] { "LNS202",
                "namespace Lab;\n[LnsDsl.TransformerModel(Layers = 24, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[LnsDsl.Norm(LnsDsl.Kind.Pre)]\npublic partial class M { }",
                "namespace Lab;\n[LnsDsl.TransformerModel(Layers = 24, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[LnsDsl.Norm(LnsDsl.Kind.Pre, Scale = LnsDsl.ScaleRule.InvSqrtDepth)]\npublic partial class M { }" },
            new object[] { "LNS202",
                Head + "[TransformerModel(Layers = 24, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\npublic partial class M { }",
                Head + "[TransformerModel(Layers = 24, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]\npublic partial class M { }" },
        };

        [Theory]
        [MemberData(nameof(Fixes))]
        public async Task The_fix_rewrites_the_declaration_and_clears_the_diagnostic(string id, string before, string after)
        {
            var document = CreateDocument(before);
            var diagnostic = Assert.Single(await Diagnostics(document), d => d.Id == id);
            var actions = new List<CodeAction>();
            var context = new CodeFixContext(document, diagnostic, (action, _) => actions.Add(action), CancellationToken.None);
            var provider = new ModelCodeFixProvider();
            Assert.Contains(id, provider.FixableDiagnosticIds);
            await provider.RegisterCodeFixesAsync(context);
            var action = Assert.Single(actions);
            var operations = await action.GetOperationsAsync(CancellationToken.None);
            var changed = operations.OfType<ApplyChangesOperation>().Single().ChangedSolution.GetDocument(document.Id)!;
            string text = (await changed.GetTextAsync()).ToString();
            Assert.Equal(after, text);
            Assert.DoesNotContain(await Diagnostics(changed), d => d.Id == id);
        }

        private static Document CreateDocument(string source)
        {
            var workspace = new AdhocWorkspace();
            var compilation = GeneratorHarness.Compilation(source);
            var project = workspace.AddProject(ProjectInfo.Create(ProjectId.CreateNewId(), VersionStamp.Default, "Lab", "Lab", LanguageNames.CSharp,
                compilationOptions: compilation.Options, parseOptions: GeneratorHarness.ParseOptions, metadataReferences: compilation.References));
            return workspace.AddDocument(project.Id, "Model0.cs", SourceText.From(source));
        }

        private static async Task<ImmutableArray<Diagnostic>> Diagnostics(Document document)
        {
            var compilation = (await document.Project.GetCompilationAsync())!;
            return await compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer())).GetAnalyzerDiagnosticsAsync();
        }
    }
}
