using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;
using LnsDsl.Evaluation;
using LnsDsl.Training;

namespace LnsDsl.Experiments
{
    /// <summary>What <c>lnsrun bench</c> measures and how.</summary>
    public sealed record BenchOptions
    {
        public string Model { get; init; } = "";
        public int Batch { get; init; } = 8;
        public int Seq { get; init; } = 256;
        /// <summary>Untimed steps of each model before the first measurement.</summary>
        public int Warmup { get; init; } = 3;
        /// <summary>Timed repetitions; the fused and unfused models alternate within each.</summary>
        public int Repetitions { get; init; } = 5;
        /// <summary>Training steps per repetition (forward-only passes: the same number).</summary>
        public int Steps { get; init; } = 2;
        /// <summary>Also run the unfused straightforward composition and report the speed ratio.</summary>
        public bool Unfused { get; init; } = true;
        /// <summary>After the timed part, this many more training steps of the generated model with the resident memory sampled (0: skip).</summary>
        public int MemorySteps { get; init; }
        public string Device { get; init; } = "auto";
        /// <summary>fp32, bf16 (mixed precision, as train) or bf16-pure; empty: fp32 on CPU, bf16 on CUDA.</summary>
        public string Dtype { get; init; } = "";
        public int Threads { get; init; }
        public long Seed { get; init; }
    }

    /// <summary>A repeated measurement: median, min and max of the samples.</summary>
    public sealed record Spread(double Median, double Min, double Max, double[] Samples)
    {
        public static Spread Of(IEnumerable<double> samples)
        {
            var s = samples.ToArray();
            if (s.Length == 0) return new Spread(double.NaN, double.NaN, double.NaN, s);
            var sorted = s.OrderBy(v => v).ToArray();
            double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
            return new Spread(median, sorted[0], sorted[^1], s);
        }
    }

    /// <summary>Where one training step's time goes (milliseconds, medians). <see cref="Parts"/>: each part measured
    /// alone at the model's shapes (forward and backward), summed over the blocks; the last is what is left.</summary>
    public sealed record StepProfile(double ForwardMs, double BackwardMs, double OptimizerMs, double StepMs, ProfilePart[] Parts)
    {
        /// <summary>The optimiser step alone, side by side at the model's shapes: lnsrun train's flat Adam (FlatAdam)...</summary>
        public Spread? OptimizerFlatMs { get; init; }
        /// <summary>... and TorchSharp's optim.Adam (per parameter tensor).</summary>
        public Spread? OptimizerTorchMs { get; init; }
        /// <summary>How many times faster the flat step is (the median of the per-repetition ratios).</summary>
        public Spread? OptimizerSpeedup { get; init; }
        /// <summary>Host calls into LibTorch that create a tensor, per training step (in-place calls not counted; see
        /// <see cref="HostOps"/>): the generated model's forward, loss and backward; the unfused composition's; each optimiser
        /// step; the gradient norms per parameter (lnsrun's torch-adam path) and over the flat buffers.</summary>
        public HostOps? Ops { get; init; }
    }

    /// <summary>One part of a training step.</summary>
    public sealed record ProfilePart(string Name, double Ms);

    /// <summary>Tensors created from .NET during one training step's parts: each is a call into LibTorch (in-place calls,
    /// which return their receiver, and the work LibTorch's autograd engine does inside backward are not counted).</summary>
    public sealed record HostOps(long ForwardBackward, long? UnfusedForwardBackward, long TorchAdam, long FlatAdam, long GradientNorms, long FlatGradientNorms)
    {
        /// <summary>Tensors created on this thread so far.</summary>
        public static long Created()
        {
            var s = DisposeScopeManager.Statistics.TensorStatistics;
            return s.CreatedInScopeCount + s.CreatedOutsideScopeCount;
        }

        /// <summary>Tensors <paramref name="action"/> creates.</summary>
        public static long Count(Action action)
        {
            long before = Created();
            action();
            return Created() - before;
        }
    }

    /// <summary>Everything <c>lnsrun bench</c> measured in one run (also its JSON output).</summary>
    public sealed record BenchResult
    {
        public required string Model { get; init; }
        public required string Architecture { get; init; }
        public required string Device { get; init; }
        public required string Dtype { get; init; }
        public required int Threads { get; init; }
        public required int Batch { get; init; }
        public required int Seq { get; init; }
        public required long Parameters { get; init; }
        /// <summary>Parameters other than the embedding table (the N of PaLM's 6N).</summary>
        public required long NonEmbeddingParameters { get; init; }
        /// <summary>6 N + 12 L T H (PaLM, no causal discount).</summary>
        public required double TrainFlopsPerToken { get; init; }
        /// <summary>2 N + 4 L T H.</summary>
        public required double ForwardFlopsPerToken { get; init; }
        public required Spread TrainTokensPerSecond { get; init; }
        public required Spread ForwardTokensPerSecond { get; init; }
        public Spread? UnfusedTrainTokensPerSecond { get; init; }
        public Spread? UnfusedForwardTokensPerSecond { get; init; }
        /// <summary>Generated / unfused training throughput, one ratio per repetition (the two ran side by side).</summary>
        public Spread? TrainSpeedup { get; init; }
        public Spread? ForwardSpeedup { get; init; }
        /// <summary>Matmul FLOP/s at the model's own GEMM shapes (forward, input-gradient and weight-gradient products of every projection and the head).</summary>
        public required Spread GemmCeiling { get; init; }
        /// <summary>Matmul FLOP/s of a large square product.</summary>
        public required Spread SquareCeiling { get; init; }
        public required int SquareSize { get; init; }
        /// <summary>Achieved model FLOP/s in training (median throughput x FLOPs per token).</summary>
        public required double TrainFlops { get; init; }
        /// <summary>Model-FLOPs utilisation against the model-shape ceiling.</summary>
        public required double Mfu { get; init; }
        /// <summary>Model-FLOPs utilisation against the large-square ceiling.</summary>
        public required double MfuSquare { get; init; }
        public double? UnfusedMfu { get; init; }
        public required StepProfile Profile { get; init; }
        public required double PeakResidentMb { get; init; }
        public required double ResidentAfterWarmupMb { get; init; }
        /// <summary>Memory-flatness run: step and resident MB of each sample.</summary>
        public int[] MemorySteps { get; init; } = Array.Empty<int>();
        public double[] MemoryResidentMb { get; init; } = Array.Empty<double>();
        /// <summary>(last - first) / first over the memory samples (the first is taken after a tenth of the run).</summary>
        public double? MemoryGrowth { get; init; }
    }

    /// <summary>
    /// <c>lnsrun bench</c>: training and forward throughput of a generated model, PaLM model FLOPs, the matmul
    /// ceiling measured in the same process, model-FLOPs utilisation, the speed ratio to the unfused composition
    /// (<see cref="UnfusedTransformer"/>) run side by side, a per-step profile, and resident memory. Data are random
    /// token ids drawn once (the bench measures the model, not the data pipeline).
    /// </summary>
    public sealed class Bench
    {
        private readonly BenchOptions _o;
        private (long TorchAdam, long FlatAdam, long Norms, long FlatNorms) _ops;
        private readonly Action<string> _log;

        public Bench(BenchOptions options, Action<string>? log = null)
        {
            _o = options;
            _log = log ?? (_ => { });
        }

        /// <summary>PaLM's model FLOPs per token for training: 6 N + 12 L T H, N the parameters other than the embedding table.</summary>
        public static double TrainFlopsPerToken(ModelSpec spec, int seq)
            => 6.0 * NonEmbeddingParameters(spec) + 12.0 * spec.Layers * seq * spec.Hidden;

        /// <summary>Parameters other than the embedding table <c>[Vocab, Hidden]</c> (<c>[Vocab, Hidden - 1]</c> for CRMSNorm).</summary>
        public static long NonEmbeddingParameters(ModelSpec spec) => spec.ParameterCount - (long)spec.Vocab * Norms.StreamWidth(spec.NormType, spec.Hidden);

        /// <summary>The <c>(out, in)</c> shape of each projection the model multiplies by, with how many of it there are.</summary>
        public static IReadOnlyList<(long Out, long In, int Count)> GemmShapes(ModelSpec spec)
        {
            long q = (long)spec.Heads * spec.HeadDim, kv = (long)spec.KvHeads * spec.HeadDim;
            long ffn = Activations.IsGated(spec.Activation) ? 2L * spec.FeedForward : spec.FeedForward;
            return new[]
            {
                (q + 2 * kv, (long)spec.Hidden, spec.Layers),
                ((long)spec.Hidden, q, spec.Layers),
                (ffn, (long)spec.Hidden, spec.Layers),
                ((long)spec.Hidden, (long)spec.FeedForward, spec.Layers),
                ((long)spec.Vocab, (long)spec.Hidden, 1),
            };
        }

        public BenchResult Run()
        {
            var o = _o;
            if (o.Batch < 1 || o.Seq < 2) throw new SettingError("{Batch} must be at least 1 and {Seq} at least 2");
            if (o.Repetitions < 1 || o.Steps < 1 || o.Warmup < 0 || o.MemorySteps < 0)
                throw new SettingError("{Repetitions} and {Steps} must be at least 1, {Warmup} and {MemorySteps} at least 0");
            var entry = ModelCatalog.Get(o.Model);
            var spec = entry.Spec;
            if (o.Seq > spec.MaxSeq) throw new SettingError($"{{Seq}} {o.Seq} exceeds {spec.Name}'s MaxSeq {spec.MaxSeq}");
            var device = Devices.Resolve(o.Device);
            bool cudaDevice = device.type == DeviceType.CUDA;
            // bf16: mixed precision as train runs it (fp32 parameters and Adam state, bf16 forward); bf16-pure: all bf16.
            // dtype is the compute dtype, which the component timings and the GEMM ceilings use.
            var precision = Devices.ResolvePrecision(o.Dtype, device);
            var (dtype, dtypeName) = (precision.Compute, precision.Name);
            if (o.Threads > 0) set_num_threads(o.Threads);
            var c = CultureInfo.InvariantCulture;
            long tokensPerStep = (long)o.Batch * o.Seq;
            _log(string.Format(c, "bench {0} ({1}) on {2} {3}, {4} threads: batch {5} x {6} tokens, {7} warm-up steps, {8} repetitions of {9} steps",
                spec.Name, spec.PlacementLabel, device, dtypeName, get_num_threads(), o.Batch, o.Seq, o.Warmup, o.Repetitions, o.Steps));

            void Sync()
            {
                if (cudaDevice) cuda.synchronize(device);
            }

            manual_seed(o.Seed);
            using var generator = new Generator((ulong)o.Seed + 1);
            using var tokens = randint(spec.Vocab, new long[] { o.Batch, o.Seq + 1 }, generator: generator).to(device);
            using var x = tokens.narrow(1, 0, o.Seq).contiguous();
            using var y = tokens.narrow(1, 1, o.Seq).contiguous();

            using var fused = entry.Create(o.Seed);
            fused.to(device);
            precision.Apply(fused);
            // The generated model trains as lnsrun train trains it (the flat Adam); the unfused composition with
            // TorchSharp's optim.Adam, as a straightforward TorchSharp program would.
            using ITrainingOptimizer fusedOptimizer = FlatAdam.For(fused, 1e-4, 0, decoupled: false, decayEmbeddings: false);
            var fusedRunner = new Runner(fused, fusedOptimizer, x, y, spec.Vocab);

            UnfusedTransformer? unfused = null;
            Runner? unfusedRunner = null;
            ITrainingOptimizer? unfusedOptimizer = null;
            try
            {
                for (int i = 0; i < o.Warmup; i++) fusedRunner.TrainStep();
                fusedRunner.Forward();
                Sync();
                double residentAfterWarmup = Environment.WorkingSet / 1e6;

                if (o.Unfused)
                {
                    unfused = new UnfusedTransformer(spec);
                    unfused.CopyFrom(fused);
                    unfused.to(device);
                    // The unfused baseline has no mixed-precision path: under bf16 it runs all-bf16 (as bf16-pure).
                    if (dtype != ScalarType.Float32) unfused.to(dtype);
                    unfusedOptimizer = new TorchOptimizer(optim.Adam(unfused.parameters(), lr: 1e-4));
                    unfusedRunner = new Runner(unfused, unfusedOptimizer, x, y, spec.Vocab);
                    for (int i = 0; i < o.Warmup; i++) unfusedRunner.TrainStep();
                    unfusedRunner.Forward();
                    Sync();
                }

                double Time(Action action, int times) => Seconds(action, times, Sync);

                var train = new List<double>();
                var forward = new List<double>();
                var unfusedTrain = new List<double>();
                var unfusedForward = new List<double>();
                for (int r = 0; r < o.Repetitions; r++)
                {
                    // Alternate the order so that drift of a shared machine falls on both alike.
                    var order = unfusedRunner is null ? new[] { fusedRunner } : r % 2 == 0 ? new[] { fusedRunner, unfusedRunner } : new[] { unfusedRunner, fusedRunner };
                    foreach (var runner in order)
                    {
                        double tt = tokensPerStep * o.Steps / Time(runner.TrainStep, o.Steps);
                        double tf = tokensPerStep * o.Steps / Time(runner.Forward, o.Steps);
                        (runner == fusedRunner ? train : unfusedTrain).Add(tt);
                        (runner == fusedRunner ? forward : unfusedForward).Add(tf);
                    }
                    _log(string.Format(c, "repetition {0}/{1}: train {2:N0} tokens/s, forward {3:N0} tokens/s{4}", r + 1, o.Repetitions, train[^1], forward[^1],
                        unfusedRunner is null ? "" : string.Format(c, "; unfused train {0:N0}, forward {1:N0}", unfusedTrain[^1], unfusedForward[^1])));
                }

                // The ceilings, measured now, in this process, on the same device and dtype.
                var gemm = new List<double>();
                var square = new List<double>();
                int squareSize = cudaDevice ? 8192 : 2048;
                for (int r = 0; r < Math.Max(3, o.Repetitions); r++)
                {
                    gemm.Add(GemmRate(spec, tokensPerStep, dtype, device, Sync, out _));
                    square.Add(SquareRate(squareSize, dtype, device, Sync));
                }
                var gemmCeiling = Spread.Of(gemm);
                var squareCeiling = Spread.Of(square);

                var profile = Profile(spec, o, fusedRunner, dtype, device, Sync, gemmCeiling.Median, tokensPerStep);
                profile = OptimizerSteps(entry, o, profile, dtype, device, Sync);
                long forwardBackward = HostOps.Count(fusedRunner.Backward);
                long? unfusedForwardBackward = unfusedRunner is null ? null : HostOps.Count(unfusedRunner.Backward);
                profile = profile with { Ops = new HostOps(forwardBackward, unfusedForwardBackward, _ops.TorchAdam, _ops.FlatAdam, _ops.Norms, _ops.FlatNorms) };

                var trainSpread = Spread.Of(train);
                double flopsPerToken = TrainFlopsPerToken(spec, o.Seq);
                double achieved = trainSpread.Median * flopsPerToken;

                int[] memorySteps = Array.Empty<int>();
                double[] memoryMb = Array.Empty<double>();
                double? growth = null;
                if (o.MemorySteps > 0)
                {
                    int every = Math.Max(1, o.MemorySteps / 10);
                    var steps = new List<int>();
                    var mb = new List<double>();
                    for (int s = 1; s <= o.MemorySteps; s++)
                    {
                        fusedRunner.TrainStep();
                        if (s % every == 0 || s == o.MemorySteps)
                        {
                            Sync();
                            steps.Add(s);
                            mb.Add(Environment.WorkingSet / 1e6);
                        }
                    }
                    memorySteps = steps.ToArray();
                    memoryMb = mb.ToArray();
                    growth = (mb[^1] - mb[0]) / mb[0];
                    _log(string.Format(c, "memory over {0} more steps: {1}", o.MemorySteps, string.Join(", ", steps.Zip(mb, (s, m) => string.Format(c, "{0}: {1:N0} MB", s, m)))));
                }

                return new BenchResult
                {
                    Model = spec.Name,
                    Architecture = spec.Describe().Split('\n')[0].Trim(),
                    Device = device.ToString(),
                    Dtype = dtypeName,
                    Threads = get_num_threads(),
                    Batch = o.Batch,
                    Seq = o.Seq,
                    Parameters = spec.ParameterCount,
                    NonEmbeddingParameters = NonEmbeddingParameters(spec),
                    TrainFlopsPerToken = flopsPerToken,
                    ForwardFlopsPerToken = flopsPerToken / 3,
                    TrainTokensPerSecond = trainSpread,
                    ForwardTokensPerSecond = Spread.Of(forward),
                    UnfusedTrainTokensPerSecond = unfusedRunner is null ? null : Spread.Of(unfusedTrain),
                    UnfusedForwardTokensPerSecond = unfusedRunner is null ? null : Spread.Of(unfusedForward),
                    TrainSpeedup = unfusedRunner is null ? null : Spread.Of(train.Zip(unfusedTrain, (a, b) => a / b)),
                    ForwardSpeedup = unfusedRunner is null ? null : Spread.Of(forward.Zip(unfusedForward, (a, b) => a / b)),
                    GemmCeiling = gemmCeiling,
                    SquareCeiling = squareCeiling,
                    SquareSize = squareSize,
                    TrainFlops = achieved,
                    Mfu = achieved / gemmCeiling.Median,
                    MfuSquare = achieved / squareCeiling.Median,
                    UnfusedMfu = unfusedRunner is null ? null : Spread.Of(unfusedTrain).Median * flopsPerToken / gemmCeiling.Median,
                    Profile = profile,
                    PeakResidentMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1e6,
                    ResidentAfterWarmupMb = residentAfterWarmup,
                    MemorySteps = memorySteps,
                    MemoryResidentMb = memoryMb,
                    MemoryGrowth = growth,
                };
            }
            finally
            {
                unfusedOptimizer?.Dispose();
                unfused?.Dispose();
            }
        }

        /// <summary>One model, its optimiser and the fixed batch: a training step and a forward pass.</summary>
        internal sealed class Runner
        {
            private readonly nn.Module<Tensor, Tensor> _model;
            private readonly ITrainingOptimizer _optimizer;
            private readonly Tensor _x, _y;
            private readonly int _vocab;

            public Runner(nn.Module<Tensor, Tensor> model, ITrainingOptimizer optimizer, Tensor x, Tensor y, int vocab)
            {
                _model = model;
                _optimizer = optimizer;
                _x = x;
                _y = y;
                _vocab = vocab;
            }

            public Tensor Loss(Tensor logits) => Losses.CrossEntropy(logits, _y, _vocab);

            /// <summary>Forward, backward and the Adam step, with no host-device synchronisation.</summary>
            public void TrainStep()
            {
                _optimizer.ZeroGrad();
                Backward();
                _optimizer.Step();
            }

            public void ForwardLoss()
            {
                using var scope = NewDisposeScope();
                Loss(_model.forward(_x));
            }

            public void Backward()
            {
                using var scope = NewDisposeScope();
                Loss(_model.forward(_x)).backward();
            }

            public void Step() => _optimizer.Step();

            public void ZeroGrad() => _optimizer.ZeroGrad();

            public void Forward()
            {
                using var noGrad = no_grad();
                using var scope = NewDisposeScope();
                _model.forward(_x);
            }
        }

        /// <summary>
        /// Matmul FLOP/s at the model's GEMM shapes: for each projection <c>[out, in]</c> and M = batch x seq tokens, the
        /// forward product <c>X W^T</c>, the input gradient <c>dY W</c> and the weight gradient <c>dY^T X</c>, weighted by
        /// how many such projections the model has. <paramref name="stepSeconds"/>: the time all of one step's projections take.
        /// </summary>
        public static double GemmRate(ModelSpec spec, long m, ScalarType dtype, Device device, Action sync, out double stepSeconds)
        {
            double flops = 0, seconds = 0;
            using var noGrad = no_grad();
            foreach (var (outF, inF, count) in GemmShapes(spec))
            {
                using var scope = NewDisposeScope();
                var xIn = randn(new[] { m, inF }, dtype: dtype, device: device);
                var w = randn(new[] { outF, inF }, dtype: dtype, device: device);
                var dy = randn(new[] { m, outF }, dtype: dtype, device: device);
                void Products()
                {
                    using var inner = NewDisposeScope();
                    nn.functional.linear(xIn, w);
                    dy.mm(w);
                    dy.t().mm(xIn);
                }
                Products(); // warm
                const int times = 3;
                sync();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < times; i++) Products();
                sync();
                double t = clock.Elapsed.TotalSeconds / times;
                flops += count * 3 * 2.0 * m * outF * inF;
                seconds += count * t;
            }
            stepSeconds = seconds;
            return flops / seconds;
        }

        /// <summary>Matmul FLOP/s of an n x n x n product.</summary>
        public static double SquareRate(int n, ScalarType dtype, Device device, Action sync)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var a = randn(new long[] { n, n }, dtype: dtype, device: device);
            var b = randn(new long[] { n, n }, dtype: dtype, device: device);
            a.mm(b).Dispose(); // warm
            int times = device.type == DeviceType.CUDA ? 20 : 3;
            sync();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < times; i++) a.mm(b).Dispose();
            sync();
            return times * 2.0 * n * n * n / clock.Elapsed.TotalSeconds;
        }

        /// <summary>
        /// The optimiser step alone, flat (lnsrun train's <see cref="FlatAdam"/>) and TorchSharp's <c>optim.Adam</c>,
        /// each on its own copy of the model with the same gradients, alternating, so both see the same machine.
        /// </summary>
        private StepProfile OptimizerSteps(ModelEntry entry, BenchOptions o, StepProfile profile, ScalarType dtype, Device device, Action sync)
        {
            using var a = entry.Create(o.Seed);
            using var b = entry.Create(o.Seed);
            foreach (var m in new[] { a, b })
            {
                m.to(device);
                if (dtype != ScalarType.Float32) m.to(dtype);
            }
            using var torchAdam = optim.Adam(a.parameters(), lr: 1e-4);
            using var flat = FlatAdam.For(b, 1e-4, 0, decoupled: false, decayEmbeddings: false);
            using (no_grad())
            {
                manual_seed(o.Seed);
                foreach (var ((_, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
                {
                    using var g = randn_like(pa).mul_(1e-3);
                    pa.grad = g.clone();
                    pb.grad!.copy_(g);
                }
            }
            double Time(Action step, int times)
            {
                step(); // warm (allocates TorchSharp's moments on its first step)
                return Seconds(step, times, sync) * 1000 / times;
            }
            long torchOps = HostOps.Count(() => torchAdam.step()), flatOps = HostOps.Count(flat.Step);
            var blocks = a.named_parameters().Select(p => (Block: TransformerModule.LayerIndexOf(p.name), p.parameter)).ToList();
            long normOps = HostOps.Count(() => { var (t, bn) = GradientNorms.Compute(blocks, a.Spec.Layers, 1.0, device); t.Dispose(); bn.Dispose(); });
            long flatNormOps = HostOps.Count(() => { var (t, bn) = flat.GradientNorms(1.0); t.Dispose(); bn.Dispose(); });
            _ops = (torchOps, flatOps, normOps, flatNormOps);
            var flatMs = new List<double>();
            var torchMs = new List<double>();
            int times = Math.Max(3, o.Steps);
            for (int r = 0; r < Math.Max(3, o.Repetitions); r++)
            {
                if (r % 2 == 0) { flatMs.Add(Time(flat.Step, times)); torchMs.Add(Time(() => torchAdam.step(), times)); }
                else { torchMs.Add(Time(() => torchAdam.step(), times)); flatMs.Add(Time(flat.Step, times)); }
            }
            return profile with
            {
                OptimizerFlatMs = Spread.Of(flatMs),
                OptimizerTorchMs = Spread.Of(torchMs),
                OptimizerSpeedup = Spread.Of(torchMs.Zip(flatMs, (t, f) => t / f)),
            };
        }

        private StepProfile Profile(ModelSpec spec, BenchOptions o, Runner runner, ScalarType dtype, Device device, Action sync, double gemmRate, long m)
        {
            var forward = new List<double>();
            var backward = new List<double>();
            var optimizer = new List<double>();
            for (int i = 0; i < Math.Max(3, o.Repetitions); i++)
            {
                sync();
                var clock = Stopwatch.StartNew();
                runner.ForwardLoss();
                sync();
                double fwd = clock.Elapsed.TotalSeconds;
                runner.ZeroGrad();
                sync();
                clock.Restart();
                runner.Backward(); // forward again, with autograd, then backward
                sync();
                double fb = clock.Elapsed.TotalSeconds;
                clock.Restart();
                runner.Step();
                sync();
                double opt = clock.Elapsed.TotalSeconds;
                forward.Add(fwd * 1e3);
                backward.Add(Math.Max(0, fb - fwd) * 1e3);
                optimizer.Add(opt * 1e3);
            }
            double gemmFlops = GemmShapes(spec).Sum(g => g.Count * 3 * 2.0 * m * g.Out * g.In);
            int norms = spec.Blocks.Sum(b => BlockPrograms.For(b.Placement, spec.LayerScale).Norms.Count) + 1 + (spec.EmbeddingNorm ? 1 : 0);
            var parts = new List<ProfilePart>
            {
                new("projection GEMMs (forward, input and weight gradients)", gemmFlops / gemmRate * 1e3),
                new("attention core (SDPA, causal)", AttentionMs(spec, o, dtype, device, sync) * spec.Layers),
                new($"norms ({norms})", NormMs(spec, o, dtype, device, sync) * norms),
            };
            if (spec.Rope) parts.Add(new("rotary embeddings (q and k)", RopeMs(spec, o, dtype, device, sync) * spec.Layers));
            parts.Add(new(Activations.IsGated(spec.Activation) ? Activations.Label(spec.Activation) + " gating" : "GELU", ActivationMs(spec, o, dtype, device, sync) * spec.Layers));
            parts.Add(new("loss (cross-entropy over the vocabulary)", LossMs(spec, o, dtype, device, sync)));
            double f = Spread.Of(forward).Median, b = Spread.Of(backward).Median, o2 = Spread.Of(optimizer).Median;
            parts.Add(new("optimiser step (Adam)", o2));
            double step = f + b + o2;
            parts.Add(new("the rest (residual adds, reshapes, embedding, autograd bookkeeping)", step - parts.Sum(p => p.Ms)));
            return new StepProfile(f, b, o2, step, parts.ToArray());
        }

        /// <summary>Forward and backward of <paramref name="f"/> on fresh inputs requiring gradients, in milliseconds (median of 5).</summary>
        private static double PartMs(Func<Tensor[], Tensor> f, Action sync, params Tensor[] inputs)
        {
            void Once()
            {
                using var inner = NewDisposeScope();
                f(inputs).sum().backward();
            }
            return Median(Once, sync);
        }

        private static double RopeMs(ModelSpec spec, BenchOptions o, ScalarType dtype, Device device, Action sync)
        {
            using var scope = NewDisposeScope();
            var (cos, sin) = Fused.RopeTables(spec);
            cos = cos.to(dtype, device);
            sin = Fused.SignedSin(sin).to(dtype, device);
            // As generated: q and k side by side, [B, T, Heads + KvHeads, D], rotated in one pass.
            var qk = randn(new long[] { o.Batch, o.Seq, spec.Heads + spec.KvHeads, spec.HeadDim }, dtype: dtype, device: device).requires_grad_();
            return PartMs(t => Fused.ApplyRope(t[0], cos, sin), sync, qk);
        }

        private static double ActivationMs(ModelSpec spec, BenchOptions o, ScalarType dtype, Device device, Action sync)
        {
            using var scope = NewDisposeScope();
            long f = spec.FeedForward;
            if (Activations.IsGated(spec.Activation))
            {
                var gateUp = randn(new long[] { o.Batch, o.Seq, 2 * f }, dtype: dtype, device: device).requires_grad_();
                return PartMs(t =>
                {
                    var parts = t[0].split(new long[] { f, f }, -1);
                    var gate = spec.Activation == Activation.SwiGlu ? nn.functional.silu(parts[0]) : nn.functional.gelu(parts[0]);
                    return gate.mul(parts[1]);
                }, sync, gateUp);
            }
            var up = randn(new long[] { o.Batch, o.Seq, f }, dtype: dtype, device: device).requires_grad_();
            return PartMs(t => nn.functional.gelu(t[0]), sync, up);
        }

        private static double LossMs(ModelSpec spec, BenchOptions o, ScalarType dtype, Device device, Action sync)
        {
            using var scope = NewDisposeScope();
            var logits = randn(new long[] { (long)o.Batch * o.Seq, spec.Vocab }, dtype: dtype, device: device).requires_grad_();
            var targets = randint(spec.Vocab, new long[] { (long)o.Batch * o.Seq }, device: device);
            return PartMs(t => Losses.CrossEntropy(t[0], targets, spec.Vocab), sync, logits);
        }

        /// <summary>One block's attention core (SDPA with the causal flag) forward and backward, in milliseconds.</summary>
        private static double AttentionMs(ModelSpec spec, BenchOptions o, ScalarType dtype, Device device, Action sync)
        {
            using var scope = NewDisposeScope();
            var shape = new long[] { o.Batch, spec.Heads, o.Seq, spec.HeadDim };
            var q = randn(shape, dtype: dtype, device: device).requires_grad_();
            var k = randn(shape, dtype: dtype, device: device).requires_grad_();
            var v = randn(shape, dtype: dtype, device: device).requires_grad_();
            return PartMs(t => nn.functional.scaled_dot_product_attention(t[0], t[1], t[2], is_casual: true), sync, q, k, v);
        }

        /// <summary>One norm (the model's type with a folded scale, as generated) forward and backward, in milliseconds.</summary>
        private static double NormMs(ModelSpec spec, BenchOptions o, ScalarType dtype, Device device, Action sync)
        {
            using var scope = NewDisposeScope();
            var x = randn(new long[] { o.Batch, o.Seq, Norms.StreamWidth(spec.NormType, spec.Hidden) }, dtype: dtype, device: device).requires_grad_();
            using var weight = NormWeight.For(spec, "n", spec.TanhAlpha);
            weight.to(device);
            if (dtype != ScalarType.Float32) weight.to(dtype);
            Func<Tensor, Tensor> norm = spec.NormType switch
            {
                NormType.LayerNorm => t => Fused.LayerNorm(t, weight, spec.Eps, 0.5),
                NormType.RmsNormPlusOne => t => Fused.RmsNormPlusOne(t, weight, spec.Eps, 0.5),
                NormType.RmsNormBias => t => Fused.RmsNormBias(t, weight, spec.Eps, 0.5),
                NormType.CRmsNorm => t => Fused.CRmsNorm(t, weight, spec.Eps, 0.5),
                NormType.DyT => t => Fused.DyT(t, weight, spec.Eps, 0.5),
                _ => t => Fused.RmsNorm(t, weight, spec.Eps, 0.5),
            };
            return PartMs(t => norm(t[0]), sync, x);
        }

        private static double Median(Action once, Action sync)
        {
            once();
            var samples = new List<double>();
            for (int i = 0; i < 5; i++) samples.Add(Seconds(once, 1, sync) * 1000);
            return Spread.Of(samples).Median;
        }

        /// <summary>Seconds that <paramref name="times"/> runs of <paramref name="action"/> take, the device synchronised
        /// before and after (every timing of the benches).</summary>
        internal static double Seconds(Action action, int times, Action sync)
        {
            sync();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < times; i++) action();
            sync();
            return clock.Elapsed.TotalSeconds;
        }

        /// <summary>The human-readable report.</summary>
        public static string Format(BenchResult r)
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            string S(Spread s, double div = 1, string f = "N0") => string.Format(c, "{0} ({1} - {2})", (s.Median / div).ToString(f, c), (s.Min / div).ToString(f, c), (s.Max / div).ToString(f, c));
            sb.AppendLine(string.Format(c, "{0}: {1}", r.Model, r.Architecture));
            sb.AppendLine(string.Format(c, "device {0}, {1}, {2} threads; batch {3} x seq {4}; medians (min - max) over the repetitions", r.Device, r.Dtype, r.Threads, r.Batch, r.Seq));
            sb.AppendLine(string.Format(c, "model FLOPs per token (PaLM: 6N + 12LTH, N = {0:N0} non-embedding parameters): {1:N0} training, {2:N0} forward", r.NonEmbeddingParameters, r.TrainFlopsPerToken, r.ForwardFlopsPerToken));
            sb.AppendLine();
            sb.AppendLine(string.Format(c, "{0,-34} {1,28} {2,28} {3,20}", "", "generated (fused)", "unfused composition", "generated / unfused"));
            sb.AppendLine(string.Format(c, "{0,-34} {1,28} {2,28} {3,20}", "training tokens/s", S(r.TrainTokensPerSecond),
                r.UnfusedTrainTokensPerSecond is null ? "-" : S(r.UnfusedTrainTokensPerSecond), r.TrainSpeedup is null ? "-" : S(r.TrainSpeedup, 1, "F2")));
            sb.AppendLine(string.Format(c, "{0,-34} {1,28} {2,28} {3,20}", "forward tokens/s", S(r.ForwardTokensPerSecond),
                r.UnfusedForwardTokensPerSecond is null ? "-" : S(r.UnfusedForwardTokensPerSecond), r.ForwardSpeedup is null ? "-" : S(r.ForwardSpeedup, 1, "F2")));
            sb.AppendLine(string.Format(c, "{0,-34} {1,28:N1} {2,28}", "training GFLOP/s (model FLOPs)", r.TrainFlops / 1e9,
                r.UnfusedTrainTokensPerSecond is null ? "-" : (r.UnfusedTrainTokensPerSecond.Median * r.TrainFlopsPerToken / 1e9).ToString("N1", c)));
            sb.AppendLine(string.Format(c, "{0,-34} {1,28:P1} {2,28}", "MFU vs model-shape matmul ceiling", r.Mfu, r.UnfusedMfu is null ? "-" : r.UnfusedMfu.Value.ToString("P1", c)));
            sb.AppendLine(string.Format(c, "{0,-34} {1,28:P1}", $"MFU vs {r.SquareSize}^3 matmul ceiling", r.MfuSquare));
            sb.AppendLine();
            sb.AppendLine(string.Format(c, "matmul ceiling, model GEMM shapes: {0} GFLOP/s", S(r.GemmCeiling, 1e9, "N1")));
            sb.AppendLine(string.Format(c, "matmul ceiling, {0}^3:            {1} GFLOP/s", r.SquareSize, S(r.SquareCeiling, 1e9, "N1")));
            var p = r.Profile;
            sb.AppendLine(string.Format(c, "one training step, {0:N1} ms: forward {1:N1}, backward {2:N1}, optimiser {3:N1}; its parts, each measured alone:", p.StepMs, p.ForwardMs, p.BackwardMs, p.OptimizerMs));
            foreach (var part in p.Parts)
                sb.AppendLine(string.Format(c, "  {0,-70} {1,9:N1} ms {2,6:P0}", part.Name, part.Ms, part.Ms / p.StepMs));
            if (p.OptimizerFlatMs is { } flatMs && p.OptimizerTorchMs is { } torchMs && p.OptimizerSpeedup is { } speedup)
            {
                sb.AppendLine(string.Format(c, "  {0,-70} {1,9:N2} ms", "optimizer step, flat (lnsrun train's Adam; side by side, alone)", flatMs.Median));
                sb.AppendLine(string.Format(c, "  {0,-70} {1,9:N2} ms  (flat is {2:N1}x faster)", "optimizer step, TorchSharp Adam (optim.Adam; side by side, alone)", torchMs.Median, speedup.Median));
            }
            if (p.Ops is { } ops)
                sb.AppendLine(string.Format(c, "host calls creating a tensor, per step: forward+loss+backward {0:N0}{1}; Adam {2:N0} (TorchSharp) vs {3:N0} (flat); gradient norms {4:N0} (per parameter) vs {5:N0} (flat)",
                    ops.ForwardBackward, ops.UnfusedForwardBackward is { } u ? string.Format(c, " (unfused {0:N0})", u) : "", ops.TorchAdam, ops.FlatAdam, ops.GradientNorms, ops.FlatGradientNorms));
            sb.AppendLine(string.Format(c, "resident memory: {0:N0} MB after warm-up, peak {1:N0} MB", r.ResidentAfterWarmupMb, r.PeakResidentMb));
            if (r.MemoryGrowth is { } g)
                sb.AppendLine(string.Format(c, "memory over {0} more steps: {1:N0} MB at step {2} -> {3:N0} MB at step {4} ({5:+0.0%;-0.0%})",
                    r.MemorySteps[^1], r.MemoryResidentMb[0], r.MemorySteps[0], r.MemoryResidentMb[^1], r.MemorySteps[^1], g));
            return sb.ToString();
        }

        public static string ToJson(BenchResult r) => JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
    }
}
