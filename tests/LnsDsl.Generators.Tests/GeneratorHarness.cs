using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using LnsDsl.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace LnsDsl.Generators.Tests
{
    /// <summary>Runs the LnsDsl generator and analyzer on source text, as the compiler would in a user's project.</summary>
    public static class GeneratorHarness
    {
        private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        {
            var refs = new List<MetadataReference>(Basic.Reference.Assemblies.Net100.References.All);
            foreach (var assembly in new[] { typeof(TorchSharp.torch).Assembly, typeof(TransformerModule).Assembly, typeof(TransformerModelAttribute).Assembly })
                refs.Add(MetadataReference.CreateFromFile(assembly.Location));
            return refs.ToImmutableArray();
        });

        public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Latest);

        public static CSharpCompilation Compilation(params string[] sources)
            => CSharpCompilation.Create("UserModels",
                sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Model{i}.cs")),
                References.Value,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable)
                    // TorchSharp is built against System.Runtime 8.0; unifying it with 10.0 is what the SDK does silently.
                    .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic> { ["CS1701"] = ReportDiagnostic.Suppress, ["CS1702"] = ReportDiagnostic.Suppress }));

        public static GeneratorDriver Driver()
            => CSharpGeneratorDriver.Create(new[] { new ModelGenerator().AsSourceGenerator() }, parseOptions: ParseOptions,
                driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

        /// <summary>The result of generating one compilation.</summary>
        public sealed record Result(
            CSharpCompilation Output,
            IReadOnlyList<(string HintName, string Source)> Generated,
            IReadOnlyList<Diagnostic> AnalyzerDiagnostics,
            IReadOnlyList<Diagnostic> GeneratorDiagnostics)
        {
            /// <summary>Compiler errors of the output compilation (user code + generated code).</summary>
            public IReadOnlyList<Diagnostic> CompileErrors
                => Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();

            /// <summary>Our own diagnostics (LNS*), from the analyzer.</summary>
            public IReadOnlyList<Diagnostic> Ours => AnalyzerDiagnostics.Where(d => d.Id.StartsWith("LNS", StringComparison.Ordinal)).ToList();
        }

        public static Result Run(params string[] sources)
        {
            var compilation = Compilation(sources);
            var driver = Driver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
            var run = driver.GetRunResult();
            var generated = run.Results.SelectMany(r => r.GeneratedSources).Select(s => (s.HintName, s.SourceText.ToString())).ToList();
            var analyzerDiagnostics = compilation
                .WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer()))
                .GetAnalyzerDiagnosticsAsync(CancellationToken.None).GetAwaiter().GetResult();
            return new Result((CSharpCompilation)output, generated, analyzerDiagnostics, generatorDiagnostics);
        }

        /// <summary>Emits the output compilation to a DLL file (for loading it later, as a user's assembly).</summary>
        public static string EmitToFile(Result result, string directory)
        {
            Directory.CreateDirectory(directory);
            string path = Path.Combine(directory, result.Output.AssemblyName + ".dll");
            var emit = result.Output.Emit(path);
            if (!emit.Success)
                throw new InvalidOperationException(string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
            return path;
        }
    }
}
