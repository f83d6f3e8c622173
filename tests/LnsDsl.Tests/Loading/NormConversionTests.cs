using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using LnsDsl.Evaluation;
using LnsDsl.Interop;
using LnsDsl.Runs;
using LnsDsl.Tests.Models;
using LnsDsl.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using LnsDsl.Loading;
using LnsDsl.Loading.Conversion;

namespace LnsDsl.Tests.Loading
{
    /// <summary>
    /// Pre-LN with LayerNorm converted to Pre-RMSNorm and Pre-CRMSNorm (and back): the same logits and validation
    /// loss from trained weights, the refusals, and training on from a converted checkpoint.
    /// </summary>
    public sealed class NormConversionTests : IDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-convert-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");

        public NormConversionTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(Path.GetTempPath(), "lnsdsl-test-cache"));
            RuntimeHelpers.RunClassConstructor(typeof(TinyLayerNormGelu).TypeHandle);
            ModelCatalog.Register(typeof(TinyLayerNormGelu).Assembly);
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        private string Corpus() => TestCorpus.RandomWords(Path.Combine(_dir, "corpus"), seed: 3, length: d => 80 + 30 * (d % 4));

        private TrainOptions Options(string model, string run, int steps = 16) => new()
        {
            Model = model, Data = Corpus(), Tokenizer = "bytes", Compact = 61, Steps = steps, Batch = 4, Seq = 32, Lr = 1e-2, Warmup = 2,
            EvalEvery = 0, EvalBatches = 2, CheckpointEvery = 0, Seed = 3, Device = "cpu", Dtype = "fp32", Out = run,
        };

        /// <summary>A run of <paramref name="model"/> trained for a few steps at a high learning rate (biases and gains move).</summary>
        private string Trained(string model)
        {
            string run = Path.Combine(_dir, model);
            if (!Directory.Exists(run)) new Trainer(Options(model, run), _ => { }) { Console = false }.Run();
            return run;
        }

        private static Tensor Tokens() => randint(0, 61, new long[] { 3, 32 }, generator: new Generator(11));

        /// <summary>The largest relative difference of two tensors (to the larger's RMS).</summary>
        private static double Relative(Tensor a, Tensor b) => (a - b).abs().max().item<float>() / Math.Max(a.square().mean().sqrt().item<float>(), 1e-12);

        public static IEnumerable<object[]> Cases() => new[]
        {
            new object[] { "TinyLayerNormSwiGluBiases", "rmsnorm", false },
            new object[] { "TinyLayerNormSwiGluBiases", "crmsnorm", false },
            new object[] { "TinyLayerNormGelu", "rmsnorm", false },
            new object[] { "TinyLayerNormGelu", "crmsnorm", false },
            new object[] { "TinyLayerNormTied", "rmsnorm", true },
            new object[] { "TinyLayerNormTied", "crmsnorm", true },
        };

        [Theory]
        [MemberData(nameof(Cases))]
        public void A_converted_checkpoint_computes_the_same_logits_and_validation_loss_and_converts_back(string model, string to, bool untie)
        {
            string run = Trained(model);
            string converted = Path.Combine(_dir, $"{model}-{to}");
            var result = NormConversion.Convert(run, converted, NormConversion.Parse(to), untie);
            string back = Path.Combine(_dir, $"{model}-{to}-back");
            NormConversion.Convert(converted, back, NormTarget.LayerNorm, untie: false);

            using var original = ModelSources.Open(run, null, null, "cpu", "fp32");
            using var rms = ModelSources.Open(converted, null, null, "cpu", "fp32");
            using var ln = ModelSources.Open(back, null, null, "cpu", "fp32");
            Assert.Equal(NormConversion.TypeOf(NormConversion.Parse(to)), rms.Model.Spec.NormType);
            Assert.Equal(NormType.LayerNorm, ln.Model.Spec.NormType);
            Assert.False(rms.Model.Spec.TieEmbeddings);

            using var noGrad = no_grad();
            var tokens = Tokens();
            using var a = original.Model.forward(tokens);
            using var b = rms.Model.forward(tokens);
            using var c = ln.Model.forward(tokens);
            double logits = Relative(a, b), logitsBack = Relative(a, c);
            var options = new EvalOptions { Batches = 2, Batch = 2, Device = "cpu", Dtype = "fp32" };
            double lossA = Evaluator.Evaluate(original, options).Loss, lossB = Evaluator.Evaluate(rms, options).Loss;
            _output.WriteLine($"{model} -> {to}: logits relative difference {logits:E2} (back to LayerNorm {logitsBack:E2}); validation loss {lossA:F6} vs {lossB:F6}; conversion check {result.MaxLogitDifference:E2}");
            Assert.True(logits < 1e-5, $"logits differ by {logits:E2}");
            Assert.True(logitsBack < 1e-5, $"converted back, logits differ by {logitsBack:E2}");
            Assert.True(Math.Abs(lossA - lossB) / lossA < 1e-5, $"validation loss {lossA} vs {lossB}");

            // The stream is zero-mean: each embedding row (and, compressed, its missing last coordinate is minus the sum).
            var embedding = rms.Model.embed_tokens.weight;
            if (to == "rmsnorm")
                Assert.True(embedding.mean(new long[] { 1 }).abs().max().item<float>() < 1e-6);
            else
                Assert.Equal(rms.Model.Spec.Hidden - 1, embedding.shape[1]);
        }

        [Fact]
        public void A_forgotten_centring_of_the_output_bias_or_an_unscaled_norm_bias_would_be_caught()
        {
            // The conversion's exactness depends on every stream write being zero-mean and on LNS scaling the norm's bias:
            // each mistake moves the logits by far more than the 1e-5 the equivalence test allows.
            string run = Trained("TinyLayerNormSwiGluBiases");
            string converted = Path.Combine(_dir, "biases-rms");
            NormConversion.Convert(run, converted, NormTarget.RmsNorm, untie: false);
            using var original = ModelSources.Open(run, null, null, "cpu", "fp32");
            using var rms = ModelSources.Open(converted, null, null, "cpu", "fp32");
            using var noGrad = no_grad();
            var tokens = Tokens();
            using var want = original.Model.forward(tokens);

            // (a) o_proj's bias left with the mean the original had.
            var layer = rms.Model.layers[1];
            var bias = layer.self_attn.o_proj.bias!;
            var originalBias = original.Model.layers[1].self_attn.o_proj.bias!;
            var saved = bias.clone();
            bias.copy_(originalBias);
            double forgotten = Relative(want, rms.Model.forward(tokens));
            bias.copy_(saved);
            Assert.True(Relative(want, rms.Model.forward(tokens)) < 1e-5);

            // (b) the norm's bias not multiplied by the LNS factor 1/sqrt(l) (block 3: 1/sqrt(3)).
            var norm = rms.Model.layers[2].input_layernorm!;
            var savedBias = norm.bias!.clone();
            norm.bias!.mul_(Math.Sqrt(3)); // what an unscaled bias adds, expressed through the stored one
            double unscaled = Relative(want, rms.Model.forward(tokens));
            norm.bias!.copy_(savedBias);

            _output.WriteLine($"o_proj bias mean {originalBias.mean().item<float>():E2}: logits move {forgotten:E2}; unscaled norm bias: {unscaled:E2}");
            Assert.True(forgotten > 1e-3, $"a forgotten bias centring moved the logits only {forgotten:E2}");
            Assert.True(unscaled > 1e-3, $"an unscaled bias moved the logits only {unscaled:E2}");
        }

        [Fact]
        public void Unconvertible_checkpoints_are_refused_by_reason_and_nothing_is_written()
        {
            void Refused(string model, NormTarget to, string phrase, bool untie = false, string? from = null)
            {
                string run = from ?? Trained(model);
                string outDir = Path.Combine(_dir, "refused-" + Guid.NewGuid().ToString("N"));
                var e = Assert.Throws<UserError>(() => NormConversion.Convert(run, outDir, to, untie));
                _output.WriteLine($"{model} -> {to}: {e.Message}");
                Assert.Contains(phrase, e.Message);
                Assert.False(Directory.Exists(outDir));
                Assert.Empty(Directory.GetDirectories(_dir, ".refused-*.partial-*"));
            }
            Refused("TinyPost", NormTarget.RmsNorm, "Post-LN normalises the residual stream itself");
            Refused("TinyPeriLns", NormTarget.RmsNorm, "Peri-LN normalises each branch's output");
            Refused("TinyLayerScale", NormTarget.RmsNorm, "LayerScale");
            Refused("TinyLns", NormTarget.CRmsNorm, "not kept zero-mean");
            Refused("TinyLayerNormTied", NormTarget.RmsNorm, "give --untie");
            string converted = Path.Combine(_dir, "gelu-rms");
            NormConversion.Convert(Trained("TinyLayerNormGelu"), converted, NormTarget.RmsNorm, untie: false);
            Refused("TinyLayerNormGelu_RmsNorm", NormTarget.RmsNorm, "already uses RMSNorm + bias", from: converted);

            // An output directory in use is never overwritten.
            string busy = Path.Combine(_dir, "busy");
            Directory.CreateDirectory(busy);
            File.WriteAllText(Path.Combine(busy, "notes.txt"), "mine");
            var e = Assert.Throws<UserError>(() => NormConversion.Convert(Trained("TinyLayerNormGelu"), busy, NormTarget.RmsNorm, untie: false));
            Assert.Contains("never overwrites", e.Message);
            Assert.Equal(new[] { "notes.txt" }, Directory.GetFileSystemEntries(busy).Select(Path.GetFileName));
        }

        [Fact]
        public void Training_on_from_a_converted_checkpoint_follows_the_original_run()
        {
            // Both stopped at step 8 of 16; the original resumed as it is, and converted to RMSNorm then resumed.
            string original = Path.Combine(_dir, "resume-original");
            var options = Options("TinyLayerNormSwiGluBiases", original);
            new Trainer(options with { StopAt = 8 }, _ => { }) { Console = false }.Run();
            string converted = Path.Combine(_dir, "resume-rms");
            NormConversion.Convert(original, converted, NormTarget.RmsNorm, untie: false);
            var convertedModel = ModelSources.Resolve(converted);
            new Trainer(options with { Resume = true }, _ => { }) { Console = false }.Run();
            new Trainer(options with { Model = convertedModel.Name, Out = converted, Resume = true }, _ => { }) { Console = false }.Run();

            var want = new RunDirectory(original).ReadSteps().Where(s => s.Step > 8).Select(s => s.Loss).ToArray();
            var got = new RunDirectory(converted).ReadSteps().Select(s => s.Loss).ToArray();
            Assert.Equal(8, want.Length);
            Assert.Equal(8, got.Length);
            double first = Math.Abs(want[0] - got[0]), worst = want.Zip(got, (x, y) => Math.Abs(x - y)).Max();
            double moved = want.Max() - want.Min();
            _output.WriteLine($"steps 9-16, original:  {string.Join(" ", want.Select(l => l.ToString("F5")))}");
            _output.WriteLine($"steps 9-16, converted: {string.Join(" ", got.Select(l => l.ToString("F5")))}");
            _output.WriteLine($"first step differs by {first:E2}, the largest by {worst:E2}; the original's loss moved {moved:F4} over these steps");
            // The first loss is computed before any update from the converted weights: the same function, fp32 rounding.
            Assert.True(first < 1e-5 * want[0], $"the first resumed loss differs by {first:E2}");
            // Then the two parameterisations take different steps (RMSNorm's gradient has a mean component that LayerNorm's
            // lacks, and Adam's second moments were carried over coordinate by coordinate): close, not identical.
            Assert.True(worst < 0.05 * Math.Max(moved, 0.1), $"the runs drift apart by {worst:E2} (the loss moved {moved:F4})");
        }
    }
}
