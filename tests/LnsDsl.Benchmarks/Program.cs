using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using LnsDsl.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

// Generator timings on a compilation of N model classes (default 200), one file each:
//   cold  - a new driver's first run (bind, parse, resolve and emit every model);
//   warm  - the same driver after an unrelated edit: Roslyn re-runs the (cheap) attribute transform on
//           the new compilation, every model compares equal, nothing is re-emitted;
//   edit1 - the same driver after editing one model (only that model re-emitted).
// Every run gets a compilation whose semantic model has not been bound yet, as in the IDE after an edit.
// Each figure is the median of R repetitions (default 7), with min and max.
if (args.Length >= 3 && args[0] == "parquet-corpus")
    return ParquetCorpus.Write(args[1], long.Parse(args[2]));
int models = args.Length > 1 ? int.Parse(args[1]) : 200;
int repetitions = args.Length > 2 ? int.Parse(args[2]) : 7;
if (args.Length == 0 || args[0] != "generator")
{
    Console.Error.WriteLine("usage: LnsDsl.Benchmarks generator [MODELS=200] [REPETITIONS=7]\n       LnsDsl.Benchmarks parquet-corpus OUT.parquet MEGABYTES");
    return 2;
}

var parse = new CSharpParseOptions(LanguageVersion.Latest);
var references = Basic.Reference.Assemblies.Net100.References.All.Cast<MetadataReference>()
    .Append(MetadataReference.CreateFromFile(typeof(LnsDsl.TransformerModelAttribute).Assembly.Location)).ToList();
string[] kinds = { "Kind.Pre, Scale = ScaleRule.InvSqrtDepth", "Kind.Pre", "Kind.Post", "Kind.Mix, PostLayers = 3", "Kind.Peri", "Kind.DeepNorm" };
SyntaxTree Model(int i, int layers) => CSharpSyntaxTree.ParseText(
    $"using LnsDsl;\nnamespace Bench;\n[TransformerModel(Layers = {layers}, Hidden = 256, Heads = 8, FeedForward = 704, Vocab = 8192)]\n[Norm({kinds[i % kinds.Length]})]\npublic partial class Model{i} {{ }}\n",
    parse, $"Model{i}.cs");
var trees = Enumerable.Range(0, models).Select(i => Model(i, 12 + i % 13)).Append(CSharpSyntaxTree.ParseText("class Unrelated { }", parse, "Unrelated.cs")).ToList();
var compilation = CSharpCompilation.Create("Bench", trees, references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
compilation.GetDiagnostics(); // load the references once, outside the timings; each run below gets an unbound clone

GeneratorDriver NewDriver() => CSharpGeneratorDriver.Create(new[] { new ModelGenerator().AsSourceGenerator() }, parseOptions: parse);
var cold = new List<double>();
var warm = new List<double>();
var editOne = new List<double>();
int generated = 0;
for (int r = 0; r < repetitions + 1; r++)
{
    var clock = Stopwatch.StartNew();
    var driver = NewDriver().RunGenerators(compilation.Clone());
    double coldMs = clock.Elapsed.TotalMilliseconds;
    generated = driver.GetRunResult().GeneratedTrees.Length;

    var unrelated = compilation.SyntaxTrees.Last();
    var edited = compilation.ReplaceSyntaxTree(unrelated, CSharpSyntaxTree.ParseText($"class Unrelated {{ int x{r}; }}", parse, unrelated.FilePath));
    clock.Restart();
    driver = driver.RunGenerators(edited);
    double warmMs = clock.Elapsed.TotalMilliseconds;

    var first = edited.SyntaxTrees.First();
    var oneModel = edited.ReplaceSyntaxTree(first, Model(0, 40));
    clock.Restart();
    driver.RunGenerators(oneModel);
    double editMs = clock.Elapsed.TotalMilliseconds;
    if (r == 0) continue; // JIT warm-up
    cold.Add(coldMs);
    warm.Add(warmMs);
    editOne.Add(editMs);
}

static string Stats(List<double> xs)
{
    var s = xs.OrderBy(x => x).ToList();
    return $"median {s[s.Count / 2],8:F1} ms   (min {s[0]:F1}, max {s[^1]:F1})";
}
Console.WriteLine($"generator on {models} model classes ({generated} files generated), {repetitions} repetitions after one warm-up:");
Console.WriteLine($"  cold run (new driver)          {Stats(cold)}");
Console.WriteLine($"  warm run (unrelated edit)      {Stats(warm)}");
Console.WriteLine($"  one model edited               {Stats(editOne)}");
Console.WriteLine($"  cold / warm                    {cold.OrderBy(x => x).ElementAt(cold.Count / 2) / warm.OrderBy(x => x).ElementAt(warm.Count / 2):F1}x");
return 0;
