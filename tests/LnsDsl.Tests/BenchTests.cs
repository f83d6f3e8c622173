using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using LnsDsl.Tests.Models;
using LnsDsl.Analysis;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Experiments;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// The bench's baseline and its arithmetic: the unfused composition computes exactly what the generated model
    /// computes (so the speed ratio compares equal work), PaLM's FLOP count from hand-counted parameters, and a
    /// small end-to-end bench (figures are never asserted as speeds: only that they are measured and consistent).
    /// </summary>
    public sealed class BenchTests
    {
        private readonly ITestOutputHelper _output;

        public BenchTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void The_norm_bench_times_the_LayerNorm_RMSNorm_and_CRMSNorm_versions_of_one_model()
        {
            ModelCatalog.Register(typeof(TinyLayerNormSwiGluBiases).Assembly);
            var result = NormBench.Run(new BenchOptions { Model = "TinyLayerNormSwiGluBiases", Batch = 2, Seq = 16, Warmup = 1, Repetitions = 2, Steps = 1, Device = "cpu", Dtype = "fp32" });
            _output.WriteLine(NormBench.Format(result));
            Assert.Equal(new[] { "LayerNorm", "RMSNorm + bias", "CRMSNorm" }, result.Rows.Select(r => r.Norm));
            Assert.All(result.Rows, r => Assert.True(r.TrainTokensPerSecond.Min > 0 && r.ForwardTokensPerSecond.Min > 0));
            Assert.All(result.Rows[0].TrainVsLayerNorm.Samples, v => Assert.Equal(1.0, v));
            // The same parameters, except what CRMSNorm stores one coordinate narrower: the embedding (one column per
            // token), o_proj and down_proj (one row each, with their biases), in every block.
            var spec = ModelCatalog.Get("TinyLayerNormSwiGluBiases").Spec;
            long narrower = spec.Vocab + spec.Layers * ((long)spec.Heads * spec.HeadDim + 1 + spec.FeedForward + 1);
            Assert.Equal(spec.ParameterCount, result.Rows[0].Parameters);
            Assert.Equal(spec.ParameterCount, result.Rows[1].Parameters);
            Assert.Equal(spec.ParameterCount - narrower, result.Rows[2].Parameters);
            // A model whose stream is not read through norms alone has no such versions.
            Assert.Contains("Post-LN normalises the residual stream itself",
                Assert.Throws<UserError>(() => NormBench.Run(new BenchOptions { Model = "TinyPost", Device = "cpu" })).Message);
        }

        [Theory]
        [MemberData(nameof(NumericsTests.Cases), MemberType = typeof(NumericsTests))]
        public void The_unfused_composition_computes_the_generated_model_and_its_gradients(string name, Func<TransformerModule> create, RefConfig config)
        {
            _ = config;
            using var scope = NewDisposeScope();
            using var model = create();
            Reference.Randomize(model, 11);
            using var unfused = new UnfusedTransformer(model.Spec);
            unfused.CopyFrom(model);
            using var g = new Generator(5);
            var tokens = randint(0, model.Spec.Vocab, new long[] { 2, 9 }, generator: g);
            var fused = model.forward(tokens);
            var plain = unfused.forward(tokens);
            double error = Reference.RelativeError(plain, fused.detach().to(ScalarType.Float64));
            _output.WriteLine($"{name}: unfused vs generated logits, relative error {error:E2}");
            Assert.True(error < 1e-5, $"{name}: the unfused composition differs from the generated model by {error:E3}");

            // The same loss gives the same gradient to the shared embedding table and final norm.
            fused.square().mean().backward();
            plain.square().mean().backward();
            var parameters = unfused.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            string normWeight = parameters.ContainsKey("norm.weight") ? "norm.weight" : "norm.ln.weight"; // RMSNorm written out, or nn.LayerNorm
            Assert.True(parameters.ContainsKey(normWeight), string.Join(", ", parameters.Keys));
            foreach (var (mine, theirs) in new[] { ("embed.weight", model.embed_tokens.weight), (normWeight, model.norm.weight) })
            {
                var a = parameters[mine].grad!;
                var b = theirs.grad!;
                double gradError = (a - b).abs().max().item<float>() / b.abs().max().item<float>();
                Assert.True(gradError < 1e-4, $"{name}: gradient of {mine} differs by {gradError:E3}");
            }
        }

        /// <summary>The unfused baseline does not implement the imported checkpoints' vocabulary: it refuses such a model
        /// by name, and the bench can measure the generated model alone (--no-unfused).</summary>
        [Theory]
        [MemberData(nameof(NumericsTests.ImportCases), MemberType = typeof(NumericsTests))]
        public void The_unfused_composition_refuses_the_imported_vocabulary_with_a_clear_message(string name, Func<TransformerModule> create, RefConfig config)
        {
            _ = config;
            using var model = create();
            Assert.NotEmpty(UnfusedTransformer.Unsupported(model.Spec));
            var e = Assert.Throws<NotSupportedException>(() => new UnfusedTransformer(model.Spec));
            _output.WriteLine($"{name}: {e.Message}");
            Assert.Contains(model.Spec.Name, e.Message);
            Assert.Contains("--no-unfused", e.Message);
            Assert.All(NumericsTests.Cases(), c => Assert.Empty(UnfusedTransformer.Unsupported(((Func<TransformerModule>)c[1])().Spec)));
        }

        [Fact]
        public void Model_flops_follow_palm_with_hand_counted_parameters()
        {
            // TinyLns: 4 blocks, width 32, FFN 48 (SwiGLU), vocab 61, untied head, RMSNorm without bias.
            // Per block: qkv 3*32*32 + o 32*32 + gate_up 2*48*32 + down 48*32 + two norms 2*32 = 8,768.
            long perBlock = 3 * 32 * 32 + 32 * 32 + 2 * 48 * 32 + 48 * 32 + 2 * 32;
            long nonEmbedding = 4 * perBlock + 32 /* final norm */ + 61 * 32 /* head */;
            Assert.Equal(37_056, nonEmbedding);
            Assert.Equal(nonEmbedding, Bench.NonEmbeddingParameters(TinyLns.Architecture));
            Assert.Equal(6.0 * 37_056 + 12.0 * 4 * 16 * 32, Bench.TrainFlopsPerToken(TinyLns.Architecture, 16));

            // The GEMM shapes cover every projection weight exactly once: all non-embedding parameters except the norms.
            long gemmWeights = Bench.GemmShapes(TinyLns.Architecture).Sum(s => s.Out * s.In * s.Count);
            Assert.Equal(nonEmbedding - (4 * 2 * 32 + 32), gemmWeights);
            // Grouped-query attention shrinks the fused qkv projection: 4 query heads + 2 x 2 kv heads of 8.
            Assert.Equal((4 * 8 + 2 * 2 * 8, 32L, 4), Bench.GemmShapes(TinyGqaTied.Architecture)[0]);
        }

        [Fact]
        public void A_small_bench_measures_both_models_side_by_side_and_memory_over_steps()
        {
            var result = new Bench(new BenchOptions
            {
                Model = nameof(TinyLns), Batch = 2, Seq = 16, Warmup = 1, Repetitions = 3, Steps = 1, MemorySteps = 5, Threads = 0,
            }, _output.WriteLine).Run();
            _output.WriteLine(Bench.Format(result));
            Assert.Equal(3, result.TrainTokensPerSecond.Samples.Length);
            Assert.Equal(3, result.UnfusedTrainTokensPerSecond!.Samples.Length);
            Assert.All(result.TrainTokensPerSecond.Samples.Concat(result.ForwardTokensPerSecond.Samples), v => Assert.True(v > 0 && double.IsFinite(v)));
            Assert.True(result.TrainTokensPerSecond.Min <= result.TrainTokensPerSecond.Median && result.TrainTokensPerSecond.Median <= result.TrainTokensPerSecond.Max);
            // Each ratio is taken within one repetition: fused sample r over unfused sample r.
            Assert.Equal(result.TrainTokensPerSecond.Samples[1] / result.UnfusedTrainTokensPerSecond.Samples[1], result.TrainSpeedup!.Samples[1], 9);
            Assert.Equal(result.TrainTokensPerSecond.Median * result.TrainFlopsPerToken, result.TrainFlops, 3);
            Assert.Equal(result.TrainFlops / result.GemmCeiling.Median, result.Mfu, 9);
            Assert.True(result.GemmCeiling.Median > 0 && result.SquareCeiling.Median > 0);
            Assert.Equal(result.ForwardFlopsPerToken * 3, result.TrainFlopsPerToken, 6);
            Assert.Equal(result.Profile.StepMs, result.Profile.Parts.Sum(p => p.Ms), 6);
            Assert.All(result.Profile.Parts.SkipLast(1), p => Assert.True(p.Ms > 0, $"{p.Name}: {p.Ms} ms"));
            Assert.Equal(new[] { 1, 2, 3, 4, 5 }, result.MemorySteps);
            Assert.Equal(5, result.MemoryResidentMb.Length);
            Assert.True(result.PeakResidentMb >= result.MemoryResidentMb.Max() - 1);

            using var json = JsonDocument.Parse(Bench.ToJson(result));
            Assert.Equal("TinyLns", json.RootElement.GetProperty("model").GetString());
            Assert.Equal(3, json.RootElement.GetProperty("train_tokens_per_second").GetProperty("samples").GetArrayLength());
            Assert.True(json.RootElement.GetProperty("train_speedup").GetProperty("median").GetDouble() > 0);
        }
    }
}
