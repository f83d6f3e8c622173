using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using LnsDsl.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace LnsDsl.Compilation
{
    /// <summary>
    /// Compiles an LnsDsl declaration at run time with the project's own generator and analyzer, exactly as the
    /// compiler does in a user's project, and registers the model it declares. Compiled assemblies are cached
    /// under <c>~/.cache/lnsdsl/models/</c> (<c>LNSDSL_CACHE</c> moves it), keyed by the source, the generator's
    /// version and the runtime assembly, so the second load of the same architecture takes no compilation.
    /// </summary>
    public static class ModelCompiler
    {
        private static readonly object Gate = new();

        /// <summary>The model <paramref name="className"/> declared in <paramref name="source"/>.</summary>
        public static ModelEntry Compile(string source, string className)
            => Compile(source, className, Path.Combine(Data.Corpus.CacheDirectory, "models"));

        /// <summary>The models <paramref name="classNames"/> declared in <paramref name="source"/> (one compilation), in that order.</summary>
        public static IReadOnlyList<ModelEntry> Compile(string source, IReadOnlyList<string> classNames)
            => classNames.Select(name => Compile(source, name)).ToList(); // the first compiles; the rest find the loaded assembly

        /// <summary>The model <paramref name="className"/> declared in <paramref name="source"/>, compiled into (or found in)
        /// <paramref name="cache"/>. The entry is returned: callers use it, never a later catalogue lookup (the catalogue
        /// also learns the class, for listings, but nothing depends on that).</summary>
        public static ModelEntry Compile(string source, string className, string cache)
        {
            lock (Gate)
            {
                string key = Key(source);
                string directory = Path.Combine(cache, key[..16]);
                string dll = Path.Combine(directory, "Model.dll");
                // The assembly's name is derived from the key: one already loaded from another cache directory (the
                // same source, generator and runtime) is the same model, and .NET would refuse to load a second copy.
                string name = AssemblyName(dll);
                var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == name);
                if (assembly is null)
                {
                    if (!File.Exists(dll)) Build(source, dll);
                    ModelCatalog.LoadAssembly(dll);
                    assembly = AppDomain.CurrentDomain.GetAssemblies().First(a => a.GetName().Name == name);
                }
                else ModelCatalog.Register(assembly);
                var entry = ModelCatalog.All.FirstOrDefault(e => e.Type.Namespace is not null && e.Type.Assembly == assembly && e.Name == className)
                    ?? throw new UserError($"the compiled declaration does not declare {className} (cache {directory}); delete that directory and try again");
                return entry;
            }
        }

        /// <summary>The compiled assembly's name: from its cache directory, which is named by the key.</summary>
        private static string AssemblyName(string dll) => "LnsDsl.Imported." + Path.GetFileName(Path.GetDirectoryName(dll));

        private static string Key(string source)
        {
            string runtime = typeof(TransformerModule).Assembly.ManifestModule.ModuleVersionId.ToString();
            string generator = typeof(ModelGenerator).Assembly.ManifestModule.ModuleVersionId.ToString();
            return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{ModelGenerator.Version}|{generator}|{runtime}|{source}"))).ToLowerInvariant();
        }

        private static void Build(string source, string dll)
        {
            var parse = new CSharpParseOptions(LanguageVersion.Latest);
            var tree = CSharpSyntaxTree.ParseText(source, parse, path: "Declaration.cs", encoding: Encoding.UTF8);
            var compilation = CSharpCompilation.Create(AssemblyName(dll), new[] { tree }, References(),
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, optimizationLevel: OptimizationLevel.Release)
                    .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic> { ["CS1701"] = ReportDiagnostic.Suppress, ["CS1702"] = ReportDiagnostic.Suppress }));
            var driver = CSharpGeneratorDriver.Create(new[] { new ModelGenerator().AsSourceGenerator() }, parseOptions: parse);
            driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
            var ours = compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer()))
                .GetAnalyzerDiagnosticsAsync(CancellationToken.None).GetAwaiter().GetResult()
                .Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            if (ours.Count > 0)
                throw new UserError("the declaration is not valid LnsDsl:\n  " + string.Join("\n  ", ours.Select(d => d.ToString())) + "\n" + source);
            Directory.CreateDirectory(Path.GetDirectoryName(dll)!);
            using var stream = new MemoryStream();
            var emit = output.Emit(stream);
            if (!emit.Success)
                throw new InvalidOperationException("the generated model does not compile (a bug in LnsDsl; please report it):\n  "
                    + string.Join("\n  ", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)) + "\n" + source);
            AtomicFile.Write(dll, s => stream.WriteTo(s));
        }

        /// <summary>The assemblies of this process (the framework, TorchSharp, the LnsDsl runtime and attributes).</summary>
        private static IReadOnlyList<MetadataReference> References()
        {
            var paths = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).ToList();
            foreach (var assembly in new[] { typeof(TorchSharp.torch).Assembly, typeof(TransformerModule).Assembly, typeof(TransformerModelAttribute).Assembly })
                if (!string.IsNullOrEmpty(assembly.Location)) paths.Add(assembly.Location);
            return paths.Distinct(StringComparer.Ordinal).Where(File.Exists).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        }
    }
}
