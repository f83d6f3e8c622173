using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using LnsDsl.Data;
using LnsDsl.Models;
using LnsDsl.Runs;
using LnsDsl.Tests.Models;
using LnsDsl.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>The flat-buffer Adam/AdamW against TorchSharp's, its views, its state and its use by the trainer.</summary>
    public sealed class FlatAdamTests : IDisposable
    {
        private const int Vocab = 61, Time = 16, Batch = 4;
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-flat-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");

        public FlatAdamTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(Path.GetTempPath(), "lnsdsl-test-cache"));
            RuntimeHelpers.RunClassConstructor(typeof(TinyByteLns).TypeHandle);
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        /// <summary>One optimiser under test: how it zeroes, clips (with the norms) and steps.</summary>
        private sealed record Stepper(Action<double> Lr, Action Zero, Func<double, (Tensor, Tensor)> Norms, Action Step);

        private static Stepper Torch(TinyLns model, OptimizerFactory make)
        {
            var opt = make(model);
            var blocks = model.named_parameters().Select(p => (FlatAdam.BlockOf(p.name), p.parameter)).ToList();
            var wrapped = new TorchOptimizer(opt);
            return new Stepper(lr => wrapped.LearningRate = lr, wrapped.ZeroGrad,
                clip => GradientNorms.Compute(blocks, model.Spec.Layers, clip, CPU), wrapped.Step);
        }

        private static Stepper Flat(FlatAdam flat) => new(lr => flat.LearningRate = lr, flat.ZeroGrad, flat.GradientNorms, flat.Step);

        private delegate TorchSharp.Modules.OptimizerHelper OptimizerFactory(TinyLns model);

        /// <summary>Trains <paramref name="model"/> from step <paramref name="from"/> (1-based) to <paramref name="to"/> on
        /// deterministic random tokens with a warmup-cosine learning rate; the losses.</summary>
        private static List<double> Train(TinyLns model, Stepper s, int from, int to, double clip)
        {
            var losses = new List<double>();
            for (int step = from; step <= to; step++)
            {
                using var scope = NewDisposeScope();
                s.Lr(LearningRate.At(step, 50, 5, 3e-3, 0.1));
                s.Zero();
                var g = new Generator((ulong)(1000 + step));
                var tokens = randint(0, Vocab, new long[] { Batch, Time + 1 }, generator: g);
                for (int micro = 0; micro < 2; micro++) // two backward passes accumulate into the gradients
                {
                    var half = tokens.narrow(0, micro * Batch / 2, Batch / 2);
                    var logits = model.forward(half.narrow(1, 0, Time));
                    var loss = nn.functional.cross_entropy(logits.reshape(-1, Vocab), half.narrow(1, 1, Time).reshape(-1)) / 2;
                    loss.backward();
                    if (micro == 0) losses.Add(0);
                    losses[^1] += loss.item<float>();
                }
                var (total, _) = s.Norms(clip);
                total.Dispose();
                s.Step();
            }
            return losses;
        }

        private static void AssertClose(IReadOnlyList<double> want, IReadOnlyList<double> got, double relative, ITestOutputHelper output, string what)
        {
            Assert.Equal(want.Count, got.Count);
            double worst = 0;
            int identical = 0;
            for (int i = 0; i < want.Count; i++)
            {
                worst = Math.Max(worst, Math.Abs(want[i] - got[i]) / Math.Abs(want[i]));
                if (want[i] == got[i]) identical++;
            }
            output.WriteLine($"{what}: {want.Count} losses, {identical} bit-identical, worst relative difference {worst:E2}; loss {want[0]:F5} -> {want[^1]:F5}");
            Assert.True(worst <= relative, $"{what}: relative difference {worst:E2} > {relative:E0}");
        }

        [Theory]
        [InlineData(0.5, true, 1e-6)] // clipping: the flat norm is another summation order (fp32 rounding of the coefficient)
        [InlineData(0.0, true, 1e-6)] // the CPU kernel: a correctly rounded square root where LibTorch's vectorised one may be off by one ulp
        [InlineData(0.0, false, 1e-7)] // the tensor operations: bit for bit in practice (reported), fp32 rounding allowed (vectorised vs scalar remainders)
        public void FlatAdam_reproduces_TorchSharps_Adam_with_weight_decay_and_clipping(double clip, bool cpuKernel, double tolerance)
        {
            using var a = new TinyLns(3);
            using var b = new TinyLns(3);
            var want = Train(a, Torch(a, m => optim.Adam(m.parameters(), lr: 1e-3, weight_decay: 0.05)), 1, 50, clip);
            using var flat = FlatAdam.For(b, 1e-3, 0.05, decoupled: false, decayEmbeddings: false);
            flat.CpuKernel = cpuKernel;
            var got = Train(b, Flat(flat), 1, 50, clip);
            AssertClose(want, got, tolerance, _output, $"flat Adam ({(cpuKernel ? "CPU kernel" : "tensor operations")}) vs optim.Adam, clip {clip}");
            MaxParameterDifference(a, b, "Adam");
        }

        [Fact]
        public void FlatAdamW_with_every_parameter_decayed_reproduces_TorchSharps_AdamW()
        {
            using var a = new TinyLns(4);
            using var b = new TinyLns(4);
            var want = Train(a, Torch(a, m => optim.AdamW(m.parameters(), lr: 1e-3, weight_decay: 0.1)), 1, 50, clip: 0.5);
            var all = FlatAdam.Describe(b, decayEmbeddings: true).Select(p => p with { Decay = true });
            using var flat = new FlatAdam(all, 1e-3, 0.1, decoupled: true, layers: b.Spec.Layers);
            Assert.All(flat.Groups, g => Assert.Null(g.Mask));
            var got = Train(b, Flat(flat), 1, 50, clip: 0.5);
            AssertClose(want, got, 1e-6, _output, "flat AdamW vs optim.AdamW");
            MaxParameterDifference(a, b, "AdamW");
        }

        private void MaxParameterDifference(TinyLns a, TinyLns b, string what)
        {
            double worst = 0;
            foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
                worst = Math.Max(worst, (pa - pb).abs().max().item<float>());
            _output.WriteLine($"{what}: largest parameter difference after 50 steps {worst:E2}");
        }

        [Fact]
        public void AdamW_decays_matrices_but_not_norms_biases_or_unless_asked_the_embedding()
        {
            foreach (bool embeddings in new[] { false, true })
            {
                using var model = new TinyHeadDimBiases();
                var parameters = FlatAdam.Describe(model, embeddings);
                var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
                using var flat = new FlatAdam(parameters, lr: 0.1, weightDecay: 0.5, decoupled: true, layers: model.Spec.Layers);
                flat.ZeroGrad();
                flat.Step(); // zero gradients: only the decay moves the parameters
                foreach (var (name, p) in model.named_parameters())
                {
                    bool decayed = p.dim() >= 2 && (embeddings || !name.StartsWith("embed_tokens", StringComparison.Ordinal));
                    var expected = decayed ? before[name] * (1 - 0.1 * 0.5) : before[name];
                    Assert.True(p.detach().allclose(expected.to(p.dtype), rtol: 0, atol: 0), $"{name} (embeddings {embeddings}): decayed {decayed} expected");
                }
                Assert.Contains(model.named_parameters(), p => p.name.EndsWith("norm.weight", StringComparison.Ordinal));
                Assert.Contains(model.named_parameters(), p => p.name.EndsWith(".bias", StringComparison.Ordinal));
            }
        }

        /// <summary>A depth rule's groups: the blocks' parameters step with the rule's learning rate and eps, the embedding,
        /// final norm and head with the base ones. Gradients of 1e-8 (eps's size), one step from zero moments, so that each
        /// update is exactly <c>lr * g / (g + eps)</c> and both factors show (through the CPU kernel and the tensor path).</summary>
        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void A_depth_rule_gives_the_blocks_their_learning_rate_and_eps(bool cpuKernel)
        {
            using var model = new TinyDepthMuPPeri(); // Depth-muP, L = 4, base 2: block rate and eps x (4 / 2)^-1/2
            double factor = 1 / Math.Sqrt(2);
            Assert.Equal(factor, model.Spec.BlockLrScale, 12);
            Assert.Equal(factor, model.Spec.BlockEpsScale, 12);
            var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
            const double lr = 1e-3, g = 1e-8;
            using var flat = FlatAdam.For(model, lr, 0, decoupled: false, decayEmbeddings: false);
            flat.CpuKernel = cpuKernel;
            Assert.Equal(2, flat.Groups.Count);
            foreach (var group in flat.Groups) group.Gradients.fill_(g);
            flat.Step();
            foreach (var (name, p) in model.named_parameters())
            {
                bool block = FlatAdam.BlockOf(name) >= 0;
                double rate = lr * (block ? factor : 1), eps = FlatAdam.Eps * (block ? factor : 1);
                double expected = -rate * g / (g + eps);
                double moved = (p.detach() - before[name]).mean().item<float>();
                Assert.True(Math.Abs(moved - expected) < 1e-3 * Math.Abs(expected), $"{name}: moved {moved:E4}, expected {expected:E4} (block {block})");
            }
            // Without the rule's groups the blocks would move by lr * g / (g + eps) = 5e-4: the test tells them apart.
            Assert.True(Math.Abs(-lr * factor * g / (g + FlatAdam.Eps * factor) - (-lr * g / (g + FlatAdam.Eps))) > 1e-5);
        }

        /// <summary>Whether <paramref name="view"/> shares <paramref name="buffer"/>'s memory: a write through either shows in the other.</summary>
        private static bool Aliases(Tensor view, Tensor buffer, long offset)
        {
            using var _ = no_grad();
            float saved = buffer[offset].item<float>();
            buffer[offset] = 12345.5f;
            bool seen = view.reshape(-1)[0].item<float>() == 12345.5f;
            buffer[offset] = saved;
            return seen;
        }

        [Fact]
        public void Parameters_and_gradients_stay_views_of_the_flat_buffers_through_backward_step_zero_and_moves()
        {
            using var model = new TinyLns(5);
            model.to(CPU).to(ScalarType.Float32);
            using var flat = FlatAdam.For(model, 1e-3, 0, decoupled: false, decayEmbeddings: false);
            var group = Assert.Single(flat.Groups);
            var named = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.Equal(named.Values.Sum(p => p.numel()), group.Parameters.numel());
            void Check(string when)
            {
                foreach (var s in group.Segments)
                {
                    var p = named[s.Name];
                    Assert.True(p.requires_grad, $"{s.Name} {when}: requires_grad lost");
                    Assert.True(Aliases(p, group.Parameters, s.Offset), $"{s.Name} {when}: not a view of the flat parameters");
                    Assert.True(p.grad is not null && Aliases(p.grad, group.Gradients, s.Offset), $"{s.Name} {when}: gradient not a view of the flat gradients");
                }
            }
            Check("at construction");
            var x = randint(0, Vocab, new long[] { 2, 8 });
            for (int i = 0; i < 2; i++)
            {
                flat.ZeroGrad();
                model.forward(x).sum().backward();
                Check("after backward");
                Assert.True(group.Gradients.abs().sum().item<float>() > 0, "backward did not accumulate into the flat gradients");
                flat.Step();
                Check("after the step");
            }
            model.to(CPU);
            Check("after model.to(CPU)");
            // Blocks lie contiguously in order, so the per-block norms are one reduction.
            var blocks = group.Segments.Where(s => s.Block >= 0).Select(s => s.Block).ToList();
            Assert.Equal(blocks.OrderBy(b => b), blocks);
        }

        [Fact]
        public void Flat_gradient_norms_and_clipping_match_the_per_parameter_ones()
        {
            using var a = new TinyLns(6);
            using var b = new TinyLns(6);
            using var flat = FlatAdam.For(b, 1e-3, 0, decoupled: false, decayEmbeddings: false);
            var x = randint(0, Vocab, new long[] { 2, 8 });
            a.forward(x).square().sum().backward();
            flat.ZeroGrad();
            b.forward(x).square().sum().backward();
            var blocks = a.named_parameters().Select(p => (FlatAdam.BlockOf(p.name), p.parameter)).ToList();
            var (wantTotal, wantBlocks) = GradientNorms.Compute(blocks, a.Spec.Layers, 0.1, CPU);
            var (gotTotal, gotBlocks) = flat.GradientNorms(0.1);
            Assert.True(wantTotal.allclose(gotTotal, rtol: 1e-5), $"{wantTotal.item<float>()} vs {gotTotal.item<float>()}");
            Assert.True(wantBlocks.allclose(gotBlocks, rtol: 1e-5));
            foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
                Assert.True(pa.grad!.allclose(pb.grad!, rtol: 1e-5, atol: 1e-9), $"{name}: clipped gradients differ");
        }

        [Fact]
        public void Saved_state_resumes_bit_identically_and_TorchSharps_state_converts()
        {
            // Uninterrupted: 10 steps.
            using var whole = new TinyLns(7);
            using var wholeOpt = FlatAdam.For(whole, 1e-3, 0.01, decoupled: false, decayEmbeddings: false);
            var want = Train(whole, Flat(wholeOpt), 1, 10, clip: 0.5);

            // 5 steps, saved, loaded into a fresh model (weights loaded before the flat buffers are built), 5 more.
            using (var first = new TinyLns(7))
            using (var firstOpt = FlatAdam.For(first, 1e-3, 0.01, decoupled: false, decayEmbeddings: false))
            {
                Train(first, Flat(firstOpt), 1, 5, clip: 0.5);
                first.save(Path.Combine(_dir, "model.bin"));
                firstOpt.Save(Path.Combine(_dir, "optimizer.bin"));
            }
            Assert.True(FlatAdam.IsFlatState(Path.Combine(_dir, "optimizer.bin")));
            using var second = new TinyLns(99);
            second.load(Path.Combine(_dir, "model.bin"));
            using var secondOpt = FlatAdam.For(second, 1e-3, 0.01, decoupled: false, decayEmbeddings: false);
            secondOpt.Load(Path.Combine(_dir, "optimizer.bin"));
            Assert.Equal(5, secondOpt.StepCount);
            var got = Train(second, Flat(secondOpt), 6, 10, clip: 0.5);
            Assert.Equal(want.Skip(5), got);

            // The old format: TorchSharp's optim.Adam state (checkpoints before the flat optimiser) is converted.
            using (var old = new TinyLns(7))
            {
                var torchAdam = Torch(old, m => optim.Adam(m.parameters(), lr: 1e-3, weight_decay: 0.01));
                var torchWant = Train(old, torchAdam, 1, 10, clip: 0.5);
                AssertClose(want, torchWant, 1e-6, _output, "flat vs torch, 10 steps");
            }
            using (var old = new TinyLns(7))
            {
                using var opt = new TorchOptimizer(optim.Adam(old.parameters(), lr: 1e-3, weight_decay: 0.01));
                var blocks = old.named_parameters().Select(p => (FlatAdam.BlockOf(p.name), p.parameter)).ToList();
                Train(old, new Stepper(lr => opt.LearningRate = lr, opt.ZeroGrad, c => GradientNorms.Compute(blocks, old.Spec.Layers, c, CPU), opt.Step), 1, 5, clip: 0.5);
                old.save(Path.Combine(_dir, "old-model.bin"));
                opt.Save(Path.Combine(_dir, "old-optimizer.bin"));
            }
            Assert.False(FlatAdam.IsFlatState(Path.Combine(_dir, "old-optimizer.bin")));
            using var converted = new TinyLns(99);
            converted.load(Path.Combine(_dir, "old-model.bin"));
            using var convertedOpt = FlatAdam.For(converted, 1e-3, 0.01, decoupled: false, decayEmbeddings: false);
            convertedOpt.Load(Path.Combine(_dir, "old-optimizer.bin"));
            Assert.Equal(5, convertedOpt.StepCount);
            AssertClose(want.Skip(5).ToList(), Train(converted, Flat(convertedOpt), 6, 10, clip: 0.5), 1e-6, _output, "resumed from TorchSharp's state");

            // AdamW cannot take Adam's state, and TorchSharp's optimiser refuses the flat format, both with a message.
            using var adamw = FlatAdam.For(converted, 1e-3, 0.01, decoupled: true, decayEmbeddings: false);
            Assert.Contains("adamw", Assert.Throws<UserError>(() => adamw.Load(Path.Combine(_dir, "optimizer.bin"))).Message);
            using var torchOpt = new TorchOptimizer(optim.Adam(converted.parameters(), lr: 1e-3));
            Assert.Contains("--optimizer", Assert.Throws<UserError>(() => torchOpt.Load(Path.Combine(_dir, "optimizer.bin"))).Message);
        }

        private string Corpus() => TestCorpus.RandomWords(Path.Combine(_dir, "corpus"), seed: 2, length: d => 60 + 40 * (d % 5));

        [Theory]
        [InlineData("adamw")]
        [InlineData("torch-adam")]
        public void A_stopped_and_resumed_run_reproduces_the_uninterrupted_losses_exactly(string optimizer)
        {
            var options = new TrainOptions
            {
                Model = "TinyByteLns", Data = Corpus(), Tokenizer = "bytes", Compact = 0, Steps = 10, Batch = 4, MicroBatch = 2, Seq = 32, Lr = 3e-3,
                Warmup = 2, WeightDecay = 0.1, Clip = 0.5, EvalEvery = 0, CheckpointEvery = 0, Seed = 5, Device = "cpu", Dtype = "fp32",
                Optimizer = optimizer, DecayEmbeddings = optimizer == "adamw",
            };
            double[] Losses(string run) => new RunDirectory(run).ReadSteps().Select(s => s.Loss).ToArray();
            string whole = Path.Combine(_dir, optimizer + "-whole"), parts = Path.Combine(_dir, optimizer + "-parts");
            new Trainer(options with { Out = whole }, _ => { }) { Console = false }.Run();
            var stopped = new Trainer(options with { Out = parts, StopAt = 4 }, _ => { }) { Console = false }.Run();
            Assert.True(stopped.Interrupted);
            var resumed = new Trainer(options with { Out = parts, Resume = true }, _ => { }) { Console = false }.Run();
            Assert.Equal(10, Losses(whole).Length);
            Assert.Equal(Losses(whole), Losses(parts));
            Assert.Equal(File.ReadAllBytes(Path.Combine(Checkpoint.Resolve(whole), "model.bin")), File.ReadAllBytes(Path.Combine(Checkpoint.Resolve(parts), "model.bin")));

            // Another optimiser family cannot continue the run.
            var other = options with { Out = parts, Resume = true, Steps = 10, Optimizer = optimizer == "adamw" ? "adam" : "adamw", DecayEmbeddings = false };
            Assert.Contains("Optimizer", Assert.Throws<SettingError>(() => new Trainer(other, _ => { }) { Console = false }.Run()).Message);
        }

        /// <summary>The parameter shapes of Lns12x256 (12 blocks x 256, SwiGLU 704, vocabulary 8192, untied head): 13.8M parameters in 99 tensors.</summary>
        /// <summary>Lns12x256's parameter shapes with random values and gradients from their own generator (the global one
        /// is shared with the tests running in parallel).</summary>
        private static List<FlatParameter> Lns12x256Shapes(ulong seed)
        {
            using var g = new Generator(seed);
            var list = new List<FlatParameter> { new("embed_tokens.weight", new TorchSharp.Modules.Parameter(randn(new long[] { 8192, 256 }, generator: g)), -1) };
            for (int b = 0; b < 12; b++)
            {
                list.Add(new($"layers.{b}.input_layernorm.weight", new TorchSharp.Modules.Parameter(ones(256)), b, false));
                list.Add(new($"layers.{b}.self_attn.qkv_proj.weight", new TorchSharp.Modules.Parameter(randn(new long[] { 768, 256 }, generator: g)), b));
                list.Add(new($"layers.{b}.self_attn.o_proj.weight", new TorchSharp.Modules.Parameter(randn(new long[] { 256, 256 }, generator: g)), b));
                list.Add(new($"layers.{b}.post_attention_layernorm.weight", new TorchSharp.Modules.Parameter(ones(256)), b, false));
                list.Add(new($"layers.{b}.mlp.gate_up_proj.weight", new TorchSharp.Modules.Parameter(randn(new long[] { 1408, 256 }, generator: g)), b));
                list.Add(new($"layers.{b}.mlp.down_proj.weight", new TorchSharp.Modules.Parameter(randn(new long[] { 256, 704 }, generator: g)), b));
            }
            list.Add(new("norm.weight", new TorchSharp.Modules.Parameter(ones(256)), -1, false));
            list.Add(new("lm_head.weight", new TorchSharp.Modules.Parameter(randn(new long[] { 8192, 256 }, generator: g)), -1));
            using var _ = no_grad();
            foreach (var p in list) p.Parameter.grad = randn(p.Parameter.shape, generator: g).mul_(1e-3);
            return list;
        }

        [Fact]
        public void The_flat_step_is_faster_than_TorchSharps_Adam_at_Lns12x256s_shapes_with_the_same_numbers()
        {
            // Side by side, alternating, on the same machine: TorchSharp's optim.Adam over one copy, the flat step over another.
            var a = Lns12x256Shapes(1);
            var b = Lns12x256Shapes(1);
            using var torchAdam = optim.Adam(a.Select(p => p.Parameter), lr: 1e-3, weight_decay: 0.01);
            var c = Lns12x256Shapes(1);
            using var flat = new FlatAdam(b, 1e-3, 0.01, layers: 12);
            using var flatOps = new FlatAdam(c, 1e-3, 0.01, layers: 12) { CpuKernel = false };
            double Time(Action step, int times)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < times; i++) step();
                return clock.Elapsed.TotalMilliseconds / times;
            }
            var flatMs = new List<double>();
            var opsMs = new List<double>();
            var torchMs = new List<double>();
            for (int r = 0; r < 3; r++)
            {
                torchMs.Add(Time(() => torchAdam.step(), 3));
                flatMs.Add(Time(flat.Step, 3));
                opsMs.Add(Time(flatOps.Step, 3));
            }
            double f = flatMs.Order().ElementAt(1), o = opsMs.Order().ElementAt(1), t = torchMs.Order().ElementAt(1);
            _output.WriteLine($"Lns12x256 shapes ({a.Count} tensors, {a.Sum(p => p.Parameter.numel()):N0} parameters), {get_num_threads()} threads: " +
                              $"optimizer step, flat with the CPU kernel {f:F1} ms, flat with tensor operations {o:F1} ms; TorchSharp Adam {t:F1} ms: " +
                              $"{t / f:F1}x and {t / o:F1}x faster (medians of 3 x 3 steps)");
            // The same numbers after the 1 + 9 steps each took, to fp32 rounding: the tensor operations run LibTorch's
            // element-wise kernels over chunks rather than per tensor (vectorised bodies and remainders split
            // differently); the CPU kernel's correctly rounded square root may move an update (about lr = 1e-3) by an
            // ulp, about 1e-10 a step, which shows where a parameter crosses zero: hence atol 1e-8 there.
            foreach (var (pa, pb, pc) in a.Zip(b, c))
            {
                Assert.True(pa.Parameter.detach().allclose(pb.Parameter.detach(), rtol: 1e-6, atol: 1e-8), $"{pa.Name} differs (CPU kernel): largest difference {(pa.Parameter - pb.Parameter).abs().max().item<float>():E2}, failing {((pa.Parameter - pb.Parameter).abs() > pb.Parameter.abs() * 1e-6 + 1e-9).sum().item<long>()}, nan {pb.Parameter.isnan().sum().item<long>()}, where the value is {pa.Parameter.flatten()[(pa.Parameter - pb.Parameter).abs().argmax()].item<float>():E2}");
                Assert.True(pa.Parameter.detach().allclose(pc.Parameter.detach(), rtol: 1e-6, atol: 1e-9), $"{pa.Name} differs (tensor operations)");
            }
            foreach (var p in a.Concat(b).Concat(c)) p.Parameter.Dispose();
        }

        [Fact]
        public void The_chunking_changes_no_number()
        {
            List<Tensor> Run(long chunk, bool decoupled)
            {
                var list = Lns12x256Shapes(2).Take(8).ToList();
                using var flat = new FlatAdam(list, 1e-3, 0.05, decoupled, layers: 12) { ChunkElements = chunk, CpuKernel = false };
                for (int i = 0; i < 3; i++) flat.Step();
                return list.Select(p => p.Parameter.detach().clone()).ToList();
            }
            foreach (bool decoupled in new[] { false, true })
            {
                var whole = Run(long.MaxValue, decoupled);
                foreach (long chunk in new long[] { FlatAdam.CpuChunk, 1000, 77 })
                    // Chunks may change only which elements a vectorised body or a scalar remainder computes (fp32 rounding).
                    Assert.All(whole.Zip(Run(chunk, decoupled)), x => Assert.True(x.First.allclose(x.Second, rtol: 1e-6, atol: 1e-9), $"chunk {chunk}, decoupled {decoupled}"));
            }
        }

        [Fact]
        public void The_CPU_kernel_matches_the_tensor_operations_for_Adam_and_masked_AdamW_and_ignores_the_thread_count()
        {
            List<Tensor> Run(bool decoupled, bool kernel, int threads)
            {
                // The first block, the final norm and the head: matrices and a norm, so AdamW's mask has both values;
                // 300K+ elements, so that two threads split the buffer.
                var list = Lns12x256Shapes(5).Where(p => p.Block <= 0).ToList();
                using var flat = new FlatAdam(list, 1e-3, 0.05, decoupled, layers: 12) { CpuKernel = kernel, CpuThreads = threads };
                Assert.Equal(decoupled, flat.Groups[0].Mask is not null);
                for (int i = 0; i < 4; i++) flat.Step();
                return list.Select(p => p.Parameter.detach().clone()).ToList();
            }
            foreach (bool decoupled in new[] { false, true })
            {
                var ops = Run(decoupled, kernel: false, threads: 0);
                var one = Run(decoupled, kernel: true, threads: 1);
                var two = Run(decoupled, kernel: true, threads: 2);
                Assert.All(ops.Zip(one), x => Assert.True(x.First.allclose(x.Second, rtol: 1e-6, atol: 1e-9), $"decoupled {decoupled}: kernel vs tensor operations"));
                Assert.All(one.Zip(two), x => Assert.True(x.First.eq(x.Second).all().item<bool>(), $"decoupled {decoupled}: the thread count changed a number"));
                // The update is not trivially equal: the parameters moved.
                var start = Lns12x256Shapes(5).Where(p => p.Block <= 0).Select(p => p.Parameter.detach()).ToList();
                Assert.All(start.Zip(one), x => Assert.False(x.First.eq(x.Second).all().item<bool>()));
            }
        }

        [Theory]
        [InlineData(131_073, 2)] // 2 x 65,536 + 1: the split must reach the last element
        [InlineData(262_151, 3)]
        [InlineData(1_000_003, 7)]
        public void The_CPU_kernel_updates_every_element_whatever_the_split(long count, int threads)
        {
            using var g = new Generator(9);
            var p = new TorchSharp.Modules.Parameter(randn(count, generator: g));
            using (no_grad()) p.grad = randn(count, generator: g);
            var before = p.detach().clone();
            using var flat = new FlatAdam(new[] { new FlatParameter("w", p, -1) }, 1e-3) { CpuThreads = threads };
            flat.Step();
            // Adam's first step moves every element by about lr (m / sqrt(v) = sign(g)).
            var moved = (p.detach() - before).abs();
            Assert.True(moved.min().item<float>() > 5e-4, $"an element did not move (smallest step {moved.min().item<float>():E2})");
            Assert.True(moved[count - 1].item<float>() > 5e-4, "the last element did not move");
        }
    }
}
