using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Reflection;
using System.Text;
using LnsDsl.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.Generators.Tests
{
    /// <summary>
    /// The generator and analyzer never throw, and never emit code that does not compile: for thousands of
    /// random declarations (random attribute subsets, values at and past every bound, broken syntax) either
    /// the output compiles with zero errors, or an Error of ours explains why, or the declaration itself is
    /// malformed and the compiler says so.
    /// </summary>
    public sealed class FuzzTests
    {
        private const int Count = 3000;
        private readonly ITestOutputHelper _output;

        public FuzzTests(ITestOutputHelper output) => _output = output;

        private static readonly string[] Ints = { "-1", "0", "1", "2", "3", "4", "6", "7", "8", "12", "16", "24", "31", "64", "66", "128", "1024", "1025", "70000", "int.MaxValue" };
        private static readonly string[] Doubles = { "-1.0", "0", "1e-6", "1e-12", "0.02", "0.5", "2", "10000", "1e300", "double.NaN", "double.PositiveInfinity" };

        private sealed class Declaration
        {
            public readonly StringBuilder Text = new();
            public bool Malformed;
        }

        private static T Pick<T>(Random r, IReadOnlyList<T> items) => items[r.Next(items.Count)];

        private static Declaration Generate(Random r)
        {
            var d = new Declaration();
            var t = d.Text;
            t.Append("using LnsDsl;\nnamespace Fuzz;\n");
            bool nested = r.Next(8) == 0;
            if (nested) t.Append(r.Next(2) == 0 ? "public partial class Outer {\n" : "public class Outer {\n");

            if (r.Next(12) != 0)
            {
                var sizes = new List<string>();
                foreach (var name in new[] { "Layers", "Hidden", "Heads", "FeedForward", "Vocab" })
                    if (r.Next(20) != 0) sizes.Add($"{name} = {(r.Next(8) == 0 ? Pick(r, Ints) : Plausible(r, name))}");
                if (r.Next(4) == 0) sizes.Add($"KvHeads = {Pick(r, new[] { "0", "1", "2", "3", "4", "-2", "8" })}");
                if (r.Next(6) == 0) sizes.Add($"MaxSeq = {Pick(r, Ints)}");
                if (r.Next(6) == 0) sizes.Add($"TieEmbeddings = {(r.Next(2) == 0 ? "true" : "false")}");
                if (r.Next(40) == 0) { sizes.Add("Vocab = \"many\""); d.Malformed = true; }
                if (r.Next(40) == 0) { sizes.Add("Depth = 3"); d.Malformed = true; }
                t.Append($"[TransformerModel({string.Join(", ", sizes.OrderBy(_ => r.Next()))})]\n");
            }
            if (r.Next(3) != 0)
            {
                var args = new List<string> { r.Next(25) == 0 ? "(Kind)9" : "Kind." + Pick(r, new[] { "Pre", "Post", "Mix", "Peri", "DeepNorm" }) };
                if (r.Next(2) == 0) args.Add("Scale = ScaleRule." + Pick(r, new[] { "None", "InvSqrtDepth", "InvDepth" }));
                if (r.Next(4) == 0) args.Add("Type = NormType." + Pick(r, new[] { "RmsNorm", "LayerNorm" }));
                if (r.Next(4) == 0) args.Add("Eps = " + (r.Next(2) == 0 ? "1e-5" : Pick(r, Doubles)));
                if (r.Next(3) == 0) args.Add("PostLayers = " + (r.Next(2) == 0 ? "1" : Pick(r, Ints)));
                if (r.Next(5) == 0) args.Add("Alpha = " + Pick(r, Doubles));
                if (r.Next(5) == 0) args.Add("Beta = " + Pick(r, Doubles));
                t.Append($"[Norm({string.Join(", ", args)})]\n");
            }
            if (r.Next(4) == 0)
                t.Append($"[Attention(Rope = {(r.Next(3) == 0 ? "false" : "true")}, RopeTheta = {(r.Next(2) == 0 ? "500" : Pick(r, Doubles))}, QkNorm = {(r.Next(2) == 0 ? "true" : "false")})]\n");
            if (r.Next(4) == 0) t.Append($"[FeedForward(Activation.{Pick(r, new[] { "SwiGlu", "Gelu" })})]\n");
            if (r.Next(3) == 0)
                t.Append($"[Init(Std = {(r.Next(2) == 0 ? "0.02" : Pick(r, Doubles))}, EmbeddingStd = {(r.Next(2) == 0 ? "0" : Pick(r, Doubles))}, Output = OutputInit.{Pick(r, new[] { "Plain", "ScaledByDepth", "ScaledByLayer" })})]\n");
            if (r.Next(5) == 0) t.Append(r.Next(2) == 0 ? "[LayerScale]\n" : $"[LayerScale(Init = {Pick(r, Doubles)})]\n");
            if (r.Next(30) == 0) t.Append("[Norm(Kind.Pre)]\n");

            string modifiers = r.Next(10) == 0 ? "public " : "public partial ";
            string generic = r.Next(25) == 0 ? "<T>" : "";
            string baseList = r.Next(30) == 0 ? " : System.Exception" : "";
            t.Append($"{modifiers}class Model{generic}{baseList} {{ }}\n");
            if (nested) t.Append("}\n");
            if (r.Next(30) == 0)
            {
                // Broken syntax: cut the text somewhere.
                string s = t.ToString();
                t.Clear().Append(s.Substring(0, r.Next(20, s.Length)));
                d.Malformed = true;
            }
            return d;
        }

        private static string Plausible(Random r, string name) => name switch
        {
            "Layers" => Pick(r, new[] { "1", "2", "3", "4", "12", "24", "30" }),
            "Hidden" => Pick(r, new[] { "32", "48", "64", "96", "64", "60" }),
            "Heads" => Pick(r, new[] { "1", "2", "4", "8" }),
            "FeedForward" => Pick(r, new[] { "16", "64", "100", "128" }),
            _ => Pick(r, new[] { "11", "64", "257" }),
        };

        [Fact]
        public async System.Threading.Tasks.Task Random_declarations_never_break_the_generator_or_the_build()
        {
            var random = new Random(20261122);
            int compiled = 0, explained = 0, malformed = 0;
            var analyzers = ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer());
            for (int i = 0; i < Count; i++)
            {
                var declaration = Generate(random);
                string source = declaration.Text.ToString();
                var compilation = GeneratorHarness.Compilation(source);
                GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);

                var exceptions = new List<Exception>();
                var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
                    (e, _, _) => exceptions.Add(e), concurrentAnalysis: false, logAnalyzerExecutionTime: false);
                var ours = await compilation.WithAnalyzers(analyzers, options).GetAnalyzerDiagnosticsAsync();

                string context = $"declaration #{i}:\n{source}";
                Assert.True(exceptions.Count == 0, $"the analyzer threw {exceptions.FirstOrDefault()} on {context}");
                Assert.True(generatorDiagnostics.All(d => d.Id is not ("CS8784" or "CS8785")), $"the generator threw: {string.Join("; ", generatorDiagnostics)} on {context}");

                var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
                var inGenerated = errors.Where(e => e.Location.SourceTree is { } tree && tree.FilePath.EndsWith(".g.cs", StringComparison.Ordinal)).ToList();
                Assert.True(inGenerated.Count == 0, $"generated code does not compile: {string.Join("; ", inGenerated.Take(3))} for {context}");

                bool ourError = ours.Any(d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("LNS", StringComparison.Ordinal));
                if (ourError) explained++;
                else if (errors.Count == 0) compiled++;
                else if (declaration.Malformed) malformed++;
                else Assert.Fail($"compile errors without an LnsDsl error to explain them: {string.Join("; ", errors.Take(3))} for {context}");
            }
            _output.WriteLine($"{Count} random declarations: {compiled} compiled cleanly, {explained} rejected with an LnsDsl error, {malformed} malformed (compiler errors only)");
            Console.WriteLine($"fuzz: {Count} random declarations tried: {compiled} compiled cleanly, {explained} explained by an LnsDsl error, {malformed} malformed");
            Assert.True(compiled > Count / 10 && explained > Count / 10, $"the declarations do not explore both sides: {compiled} compiled, {explained} explained, {malformed} malformed");
        }

        [Fact]
        public void Pipeline_models_hold_no_symbol_syntax_or_compilation()
        {
            var compilation = GeneratorHarness.Compilation("using LnsDsl;\nnamespace Lab;\n[TransformerModel(Layers = 2, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n[Norm(Kind.Mix, PostLayers = 1)]\n[Init(Output = OutputInit.ScaledByDepth)]\npublic partial class M { }\npublic class N { }");
            var run = GeneratorHarness.Driver().RunGenerators(compilation).GetRunResult().Results.Single();
            int visited = 0;
            foreach (var step in new[] { ModelGenerator.Steps.Parse, ModelGenerator.Steps.Model }.SelectMany(name => run.TrackedSteps[name]))
                foreach (var (value, _) in step.Outputs)
                    visited += Walk(value, new HashSet<object>(ReferenceEqualityComparer.Instance), step.Name ?? "?");
            Assert.True(visited > 20, $"walked only {visited} objects");
        }

        private static readonly Type[] Forbidden = { typeof(ISymbol), typeof(SyntaxNode), typeof(Compilation), typeof(SemanticModel), typeof(SyntaxTree), typeof(Location), typeof(AttributeData) };

        private static int Walk(object? value, HashSet<object> seen, string path)
        {
            if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return 1;
            var type = value.GetType();
            Assert.False(Forbidden.Any(f => f.IsAssignableFrom(type)), $"{path} holds a {type.Name}: pipeline models must be plain data");
            if (!type.IsValueType && !seen.Add(value)) return 0;
            if (type.Namespace?.StartsWith("Microsoft.CodeAnalysis.Text", StringComparison.Ordinal) == true) return 1; // TextSpan, LinePositionSpan
            int count = 1;
            if (value is IEnumerable items)
                foreach (var item in items) count += Walk(item, seen, path + "[]");
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                count += Walk(field.GetValue(value), seen, path + "." + field.Name);
            return count;
        }
    }
}
