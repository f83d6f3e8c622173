using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using LnsDsl.Compilation;
using LnsDsl.Interop.PyTorch;
using LnsDsl.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// Random valid declarations (every placement, norm type, activation, LayerScale, QK norm, biases, soft-caps, GQA,
    /// tied heads, ...), compiled in one compilation by the project's generator: the generated TorchSharp forward against
    /// the independent fp64 reference and against the exported model.py, both rendered from the same block programs.
    /// </summary>
    [Collection("Memory")] // a thousand models' tensors: run alone, so the GC churn it causes never meets another test's native calls
    public sealed class RandomDeclarationTests : IDisposable
    {
        private const int Count = 1000;
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-random-" + Guid.NewGuid().ToString("N"));

        public RandomDeclarationTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
        }

        public void Dispose()
        {
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        /// <summary>A random valid architecture (a ModelSpec to declare; the generator resolves its blocks).</summary>
        private static ModelSpec Random(Random r)
        {
            T Pick<T>(params T[] items) => items[r.Next(items.Length)];
            var kind = Pick(Kind.Pre, Kind.Post, Kind.Mix, Kind.Peri, Kind.DeepNorm, Kind.OutputNorm, Kind.None, Kind.Hybrid);
            var rule = Pick(ResidualRule.None, ResidualRule.None, ResidualRule.DepthMuP, ResidualRule.CompleteP);
            var gate = kind == Kind.None || r.Next(5) == 0 ? ResidualGate.Scalar : ResidualGate.None;
            int layers = kind == Kind.Mix ? r.Next(2, 4) : r.Next(1, 4);
            int heads = Pick(2, 4), hidden = Pick(16, 32);
            int headDim = r.Next(5) == 0 ? 6 : hidden / heads;
            bool layerScale = r.Next(4) == 0, tie = r.Next(4) == 0;
            bool embeddingNorm = r.Next(5) == 0 ? kind != Kind.Peri : kind == Kind.Peri;
            var normType = Pick(NormType.RmsNorm, NormType.LayerNorm, NormType.RmsNormPlusOne, NormType.RmsNormBias, NormType.CRmsNorm, NormType.DyT, NormType.BHyT);
            bool tanh = normType is NormType.DyT or NormType.BHyT;
            if (normType == NormType.CRmsNorm && (kind != Kind.Pre || embeddingNorm || layerScale || tie)) normType = NormType.RmsNormBias;
            // Hyper-connections where the residual adds are x + F(x) (not on the compressed stream).
            bool hyper = kind is Kind.Pre or Kind.Peri or Kind.OutputNorm or Kind.None && normType != NormType.CRmsNorm && r.Next(4) == 0;
            bool hybrid = kind == Kind.Hybrid, qkNorm = hybrid || r.Next(3) == 0;
            return TinyPre.Architecture with
            {
                Name = "", Layers = layers, Hidden = hidden, Heads = heads, KvHeads = Pick(1, heads), HeadDim = headDim,
                FeedForward = Pick(12, 20, 36), Vocab = Pick(17, 29), MaxSeq = 64, TieEmbeddings = tie,
                Norm = kind, NormType = normType, Scale = Pick(ScaleRule.None, ScaleRule.InvSqrtDepth, ScaleRule.InvDepth), Eps = Pick(1e-5, 1e-6),
                PostLayers = kind == Kind.Mix ? r.Next(1, layers) : 0,
                Alpha = kind == Kind.DeepNorm ? Placements.DeepNormAlpha(layers) : 1, Beta = kind == Kind.DeepNorm ? Placements.DeepNormBeta(layers) : 1,
                Rope = r.Next(6) != 0, QkNorm = qkNorm, QkNormScope = qkNorm && !hybrid && r.Next(2) == 0 ? QkNormScope.Projection : QkNormScope.Head,
                ValueNorm = hybrid, FirstBlockPreNorm = hybrid && r.Next(2) == 0,
                HyperStreams = hyper ? Pick(2, 3, 4) : 0, HyperManifold = hyper && r.Next(3) != 0,
                ResidualRule = rule, BaseLayers = rule == ResidualRule.None ? 1 : Pick(1, 2),
                Activation = Pick(Activation.SwiGlu, Activation.Gelu, Activation.Geglu, Activation.GegluTanh),
                LayerScale = layerScale, LayerScaleInit = layerScale ? 0.1 : 0, EmbeddingNorm = embeddingNorm,
                QkvBias = r.Next(4) == 0, OutputBias = r.Next(4) == 0, MlpBias = r.Next(4) == 0,
                SoftCap = r.Next(5) == 0 ? 30 : 0, QueryScaleDim = r.Next(6) == 0 ? 12 : 0,
                ScaleEmbeddings = r.Next(6) == 0, LogitSoftCap = r.Next(6) == 0 ? 20 : 0,
                ResidualGate = gate, ResidualGateInit = gate == ResidualGate.Scalar ? Pick(0.0, 0.5) : 0,
                TanhAlpha = tanh ? Pick(0.5, 0.8, 2.0) : 0, TanhAlphaMlp = tanh ? Pick(0.5, 0.2, 1.0) : 0, TanhAlphaFinal = tanh ? Pick(0.5, 0.2) : 0,
                Kappa = normType == NormType.BHyT ? Pick(10.0, 3.0) : 0,
            };
        }

        /// <summary>The reference's settings, read field by field off the spec (not off the block programs).</summary>
        private static RefConfig Config(ModelSpec s) => new(
            s.Norm, s.Scale, s.PostLayers, s.NormType, s.Eps, s.Activation, s.Rope, s.RopeTheta, s.QkNorm, s.LayerScale, s.TieEmbeddings,
            s.Norm == Kind.DeepNorm ? s.Alpha : null, s.Layers, s.Hidden, s.Heads, s.KvHeads, s.FeedForward,
            s.HeadDim, s.QkvBias, s.OutputBias, s.MlpBias, s.QkNormScope, s.SoftCap, s.QueryScaleDim,
            ScaleEmbeddings: s.ScaleEmbeddings, LogitSoftCap: s.LogitSoftCap, EmbeddingNorm: s.EmbeddingNorm, ResidualGate: s.ResidualGate == ResidualGate.Scalar,
            BranchMultiplier: s.ResidualRule switch
            {
                ResidualRule.DepthMuP => 1 / Math.Sqrt((double)s.Layers / s.BaseLayers),
                ResidualRule.CompleteP => (double)s.BaseLayers / s.Layers,
                _ => 1,
            },
            Kappa: s.Kappa, FirstBlockPreNorm: s.FirstBlockPreNorm, HyperStreams: s.HyperStreams, HyperManifold: s.HyperManifold);

        [Fact]
        public void Random_declarations_agree_across_torchsharp_model_py_and_the_fp64_reference()
        {
            var random = new Random(20261205);
            var specs = Enumerable.Range(0, Count).Select(_ => Random(random)).ToList();
            var names = specs.Select((_, i) => $"Random{i:D4}").ToList();
            string source = SpecDeclaration.Source(specs.Zip(names), $"{Count} random declarations (RandomDeclarationTests)", "LnsDsl.Tests.RandomModels");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var entries = names.Select(n => ModelCompiler.Compile(source, n, Path.Combine(_dir, "models"))).ToList();
            _output.WriteLine($"{Count} declarations compiled in one compilation: {clock.Elapsed.TotalSeconds:F1} s");
            var tokens = tensor(new long[] { 1, 5, 9, 2, 16, 3, 7, 11, 4, 8, 0, 13 }).reshape(2, 6);
            bool python = PythonProcess.Available("torch", _output, "the model.py side of the random declarations");
            var logits = new List<Tensor>();
            var exports = new List<string>();
            double worstReference = 0;
            string worstName = "";
            for (int i = 0; i < Count; i++)
            {
                using var model = entries[i].Create(i);
                // The declaration said what was drawn: every field of the compiled spec (names aside) is the random one.
                var declared = specs[i] with { Name = model.Spec.Name, FullName = model.Spec.FullName, Blocks = model.Spec.Blocks, ParameterCount = model.Spec.ParameterCount };
                Assert.Empty(ArchitectureComparison.Differences(declared, model.Spec));
                Reference.Randomize(model, i);
                Tensor ours;
                using (no_grad()) ours = model.forward(tokens).to(ScalarType.Float64);
                double error = Reference.RelativeError(ours, new Reference(model, Config(model.Spec)).Forward(tokens).Logits);
                if (error > worstReference) (worstReference, worstName) = (error, $"{names[i]} ({model.Spec.PlacementLabel}, {model.Spec.NormType}, {model.Spec.Activation}{(model.Spec.LayerScale ? ", LayerScale" : "")})");
                // Hyper-connections with randomised weights mix the streams with O(1) random coefficients (exp and Sinkhorn, or
                // unconstrained matrices), and fp32 rounding grows with them (seen: 1.8e-5 and 1.9e-5 of 1,000, both on blocks
                // whose branch input is not normalised). A wrong factor or a missing step is an O(1) error either way.
                double tolerance = model.Spec.HyperStreams > 0 ? 10 * NumericsTests.Tolerance : NumericsTests.Tolerance;
                Assert.True(error < tolerance, $"{names[i]}: TorchSharp vs the fp64 reference {error:E2}\n{model.Spec.Describe()}");
                logits.Add(ours);
                if (python)
                {
                    string export = Path.Combine(_dir, "export", names[i]);
                    PyTorchExport.Write(model, export);
                    exports.Add(export);
                }
            }
            var kinds = specs.GroupBy(s => s.Norm).ToDictionary(g => g.Key, g => g.Count());
            _output.WriteLine($"TorchSharp vs fp64 reference: largest relative error {worstReference:E2} ({worstName}); placements {string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}; " +
                              $"norm types {string.Join(", ", specs.GroupBy(s => s.NormType).Select(g => $"{g.Key} {g.Count()}"))}");
            Assert.All(Enum.GetValues<Kind>(), k => Assert.True(kinds.GetValueOrDefault(k) > 50, $"{k}: {kinds.GetValueOrDefault(k)} declarations"));
            Assert.True(specs.Count(s => s.ResidualGate == ResidualGate.Scalar) > 100, "too few gated declarations");
            Assert.True(specs.Count(s => s.HyperStreams > 0) > 80, "too few hyper-connected declarations");
            if (!python) return;

            string dirs = Path.Combine(_dir, "dirs.txt"), tokensFile = Path.Combine(_dir, "tokens.json"), outDir = Path.Combine(_dir, "logits");
            Directory.CreateDirectory(outDir);
            File.WriteAllLines(dirs, exports);
            File.WriteAllText(tokensFile, JsonSerializer.Serialize(Enumerable.Range(0, 2).Select(b => tokens[b].data<long>().ToArray()).ToArray()));
            clock.Restart();
            var (code, stdout, stderr) = PythonProcess.Run($"\"{Path.Combine(PythonDir(), "many_logits.py")}\" \"{dirs}\" \"{tokensFile}\" \"{outDir}\"", 900);
            Assert.True(code == 0, stdout + stderr);
            double worstPython = 0;
            for (int i = 0; i < Count; i++)
            {
                using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, $"{i}.json")));
                var theirs = tensor(result.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray()).reshape(logits[i].shape);
                double error = Reference.RelativeError(theirs, logits[i]);
                worstPython = Math.Max(worstPython, error);
                double tolerance = specs[i].HyperStreams > 0 ? 10 * NumericsTests.Tolerance : NumericsTests.Tolerance; // as above
                Assert.True(error < tolerance, $"{names[i]}: model.py vs TorchSharp {error:E2}");
            }
            _output.WriteLine($"model.py vs TorchSharp: largest relative error {worstPython:E2} over {Count} models (PyTorch {clock.Elapsed.TotalSeconds:F0} s)");
        }

        private static string PythonDir([System.Runtime.CompilerServices.CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Interop", "python");
    }
}
