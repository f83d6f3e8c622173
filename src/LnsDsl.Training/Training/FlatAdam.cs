using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace LnsDsl.Training
{
    /// <summary>A parameter handed to <see cref="FlatAdam"/>: its name, its block (0-based; -1 outside the blocks),
    /// whether AdamW's decoupled weight decay applies to it, and the factors on its learning rate and on Adam's eps
    /// (a depth rule's per-group rules, <see cref="ModelSpec.BlockLrScale"/>; 1 otherwise).</summary>
    public sealed record FlatParameter(string Name, Parameter Parameter, int Block, bool Decay = true, double LrScale = 1.0, double EpsScale = 1.0);

    /// <summary>
    /// Adam and AdamW over flat buffers: every parameter (and its gradient) becomes a view into one flat buffer per
    /// dtype and device, so a step is a handful of kernels over the whole model instead of about ten per parameter.
    /// The arithmetic is LibTorch's / TorchSharp's single-tensor Adam, operation for operation (bias corrections on
    /// the host in double from the step count; <c>denom = sqrt(v) / sqrt(bc2) + eps</c>; <c>p += -lr / bc1 * m / denom</c>),
    /// so it reproduces <c>optim.Adam</c> / <c>optim.AdamW</c>: bit for bit through the tensor operations (CUDA, bf16),
    /// to fp32 rounding through <see cref="CpuAdamKernel"/> (fp32 on the CPU: one pass over memory instead of ten).
    /// <para>Build it after the model is on its device and dtype and after its weights are loaded
    /// (<c>Module.to</c> and <c>Module.load</c> replace parameters). Clear gradients with <see cref="ZeroGrad"/>, never
    /// with <c>Module.zero_grad()</c>, which drops the gradient views.</para>
    /// </summary>
    public sealed class FlatAdam : ITrainingOptimizer
    {
        public const double Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8;
        private static readonly byte[] Magic = "LNSFLAT1"u8.ToArray();

        /// <summary>One parameter's place in its group's buffers.</summary>
        public sealed record Segment(string Name, int Block, long Offset, long Count, bool Decay, long[] Shape);

        /// <summary>The buffers of the parameters of one dtype and device.</summary>
        public sealed class Group
        {
            internal Group(ScalarType dtype, Device device, List<Segment> segments, long count, bool decoupled, double lrScale, double epsScale)
            {
                Segments = segments;
                LrScale = lrScale;
                EpsScale = epsScale;
                // Long-lived: kept out of any dispose scope the caller may have open.
                Parameters = zeros(count, dtype: dtype, device: device).DetachFromDisposeScope();
                Gradients = zeros(count, dtype: dtype, device: device).DetachFromDisposeScope();
                ExpAvg = zeros(count, dtype: dtype, device: device).DetachFromDisposeScope();
                ExpAvgSq = zeros(count, dtype: dtype, device: device).DetachFromDisposeScope();
                if (decoupled && segments.Any(s => !s.Decay))
                {
                    Mask = zeros(count, dtype: dtype, device: device).DetachFromDisposeScope();
                    foreach (var s in segments.Where(s => s.Decay)) Mask.narrow(0, s.Offset, s.Count).fill_(1);
                    Unmasked = (1 - Mask).DetachFromDisposeScope();
                }
            }

            public IReadOnlyList<Segment> Segments { get; }
            /// <summary>This group's learning rate is the optimiser's times this (a depth rule's block rate; 1 otherwise).</summary>
            public double LrScale { get; }
            /// <summary>This group's Adam eps is <see cref="Eps"/> times this.</summary>
            public double EpsScale { get; }
            public Tensor Parameters { get; }
            public Tensor Gradients { get; }
            public Tensor ExpAvg { get; }
            public Tensor ExpAvgSq { get; }
            /// <summary>1 where AdamW decays, 0 elsewhere; null when every parameter decays (or for Adam).</summary>
            public Tensor? Mask { get; }
            internal Tensor? Unmasked { get; }
            /// <summary>A work buffer of one chunk: Adam's decayed gradient, or AdamW's decay factors.</summary>
            internal Tensor? Scratch;
            /// <summary>Blocks 0..L-1 lie contiguously from here with the same size each (then per-block norms are one
            /// reduction); -1 when they do not.</summary>
            internal long BlocksStart = -1, BlockSize;
            internal int BlockCount;
            /// <summary>Elements past the blocks (embedding, final norm, head).</summary>
            internal long RestStart, RestCount;

            internal void Dispose()
            {
                Parameters.Dispose(); Gradients.Dispose(); ExpAvg.Dispose(); ExpAvgSq.Dispose();
                Mask?.Dispose(); Unmasked?.Dispose(); Scratch?.Dispose();
            }
        }

        private readonly List<Group> _groups = new();
        private readonly double _weightDecay;
        private readonly bool _decoupled;
        private readonly int _layers;
        /// <summary>The parameters' names in the order given (the model's; TorchSharp's optimiser state follows it).</summary>
        private readonly List<string> _order;

        /// <param name="parameters">The parameters to train, with their blocks and decay flags.</param>
        /// <param name="lr">The learning rate of the first step (set <see cref="LearningRate"/> before each).</param>
        /// <param name="weightDecay">Adam: L2 decay added to the gradient; AdamW: decoupled decay of the parameters with <see cref="FlatParameter.Decay"/>.</param>
        /// <param name="decoupled">AdamW (true) or Adam (false).</param>
        /// <param name="layers">The model's blocks (for per-block gradient norms).</param>
        public FlatAdam(IEnumerable<FlatParameter> parameters, double lr, double weightDecay = 0, bool decoupled = false, int layers = 0)
        {
            LearningRate = lr;
            _weightDecay = weightDecay;
            _decoupled = decoupled;
            _layers = layers;
            var all = parameters.ToList();
            _order = all.Select(p => p.Name).ToList();
            // One group per dtype, device and (learning-rate, eps) factor pair: a group is updated with one set of constants.
            foreach (var byKind in all.GroupBy(p => (p.Parameter.dtype, p.Parameter.device.ToString(), p.LrScale, p.EpsScale)))
            {
                // Blocks in order, then what lies outside them, so that each block is one contiguous range.
                var ordered = byKind.OrderBy(p => p.Block < 0 ? int.MaxValue : p.Block).ToList();
                var segments = new List<Segment>();
                long offset = 0;
                foreach (var p in ordered)
                {
                    segments.Add(new Segment(p.Name, p.Block, offset, p.Parameter.numel(), p.Decay, p.Parameter.shape));
                    offset += p.Parameter.numel();
                }
                var first = ordered[0].Parameter;
                var group = new Group(first.dtype, first.device, segments, offset, decoupled, byKind.Key.LrScale, byKind.Key.EpsScale);
                using (no_grad())
                {
                    for (int i = 0; i < ordered.Count; i++)
                    {
                        var p = ordered[i].Parameter;
                        var s = segments[i];
                        using var view = group.Parameters.narrow(0, s.Offset, s.Count).view(p.shape);
                        view.copy_(p);
                        p.set_(view);
                        using var gradView = group.Gradients.narrow(0, s.Offset, s.Count).view(p.shape);
                        if (p.grad is { } existing) gradView.copy_(existing); // a gradient already there is kept
                        p.grad = gradView;
                    }
                }
                Layout(group, layers);
                _groups.Add(group);
            }
        }

        private static void Layout(Group g, int layers)
        {
            var inBlocks = g.Segments.Where(s => s.Block >= 0).ToList();
            g.RestStart = inBlocks.Count > 0 ? inBlocks[^1].Offset + inBlocks[^1].Count : 0;
            g.RestCount = g.Segments.Sum(s => s.Count) - g.RestStart;
            if (layers <= 0 || inBlocks.Count == 0) return;
            var sizes = Enumerable.Range(0, layers).Select(b => inBlocks.Where(s => s.Block == b).Sum(s => s.Count)).ToArray();
            if (sizes.Distinct().Count() == 1 && inBlocks.All(s => s.Block < layers))
            {
                g.BlocksStart = 0;
                g.BlockSize = sizes[0];
                g.BlockCount = layers;
            }
        }

        /// <summary>The groups (one per dtype and device), for tests and diagnostics.</summary>
        public IReadOnlyList<Group> Groups => _groups;

        public double LearningRate { get; set; }

        /// <summary>Steps taken (Adam's t).</summary>
        public long StepCount { get; private set; }

        /// <summary>One parameter's two moments: writable views into the flat buffers, in the parameter's shape.</summary>
        public (Tensor ExpAvg, Tensor ExpAvgSq) Moments(string name)
        {
            foreach (var g in _groups)
                foreach (var s in g.Segments)
                    if (s.Name == name)
                        return (g.ExpAvg.narrow(0, s.Offset, s.Count).view(s.Shape), g.ExpAvgSq.narrow(0, s.Offset, s.Count).view(s.Shape));
            throw new ArgumentException($"no parameter named '{name}' in this optimiser", nameof(name));
        }

        /// <summary>Sets Adam's step count, for moments carried over from another optimiser (<see cref="Moments"/>).</summary>
        public void SetStepCount(long step) => StepCount = step >= 0 ? step : throw new ArgumentOutOfRangeException(nameof(step));

        /// <summary>Zeroes the flat gradient buffers (the parameters keep their gradient views).</summary>
        public void ZeroGrad()
        {
            foreach (var g in _groups) g.Gradients.zero_();
        }

        /// <summary>
        /// fp32 buffers in CPU memory are updated by <see cref="CpuAdamKernel"/> in one pass (the default); false runs
        /// the tensor operations chunk by chunk as on other devices and dtypes (for comparisons).
        /// </summary>
        public bool CpuKernel { get; set; } = true;

        /// <summary>Threads of <see cref="CpuAdamKernel"/>; 0: LibTorch's intra-op thread count. No number depends on it.</summary>
        public int CpuThreads { get; set; }

        /// <summary>
        /// Elements updated together by the tensor operations. On the CPU the step runs chunk by chunk so that its operations find their
        /// operands in the cache (the whole-buffer form streams each of them through memory once per operation);
        /// on CUDA the whole buffer is one chunk. Elementwise operations, so the numbers do not depend on it.
        /// </summary>
        public long ChunkElements { get; set; }

        /// <summary>The CPU's chunk: 256K elements (1 MB an operand, split over the threads), among the fastest of
        /// 16K..1M measured at Lns12x256's shapes on a 2-core EPYC (1M L2 a core, 32 MB L3); the whole buffer was slowest.</summary>
        public const long CpuChunk = 1 << 18;

        public void Step()
        {
            StepCount++;
            double wd = _weightDecay;
            double bc1 = 1 - Math.Pow(Beta1, StepCount);
            double bc2 = 1 - Math.Pow(Beta2, StepCount);
            double sqrtBc2 = Math.Sqrt(bc2);
            using var _ = no_grad();
            foreach (var g in _groups)
            {
                // The group's own rate and eps (torch.optim's param_groups: AdamW's decay factor follows the group's rate).
                double lr = LearningRate * g.LrScale, eps = Eps * g.EpsScale, stepSize = -(lr / bc1), keep = 1 - lr * wd;
                long count = g.Parameters.numel();
                if (CpuKernel && g.Parameters.device_type == DeviceType.CPU && g.Parameters.dtype == ScalarType.Float32)
                {
                    unsafe
                    {
                        var constants = new CpuAdamKernel.Step(lr, wd, _decoupled, StepCount, Beta1, Beta2, eps);
                        CpuAdamKernel.Update((float*)TensorMemory.DataPointer(g.Parameters), (float*)TensorMemory.DataPointer(g.Gradients),
                            (float*)TensorMemory.DataPointer(g.ExpAvg), (float*)TensorMemory.DataPointer(g.ExpAvgSq),
                            g.Mask is null ? null : (float*)TensorMemory.DataPointer(g.Mask), count, constants, CpuThreads > 0 ? CpuThreads : get_num_threads());
                    }
                    continue;
                }
                // The scalars live (referenced, disposed at the end) until every native call that reads them has returned: a
                // temporary double -> Scalar conversion may be finalised by the GC while LibTorch still reads it.
                using Scalar sBeta1 = Beta1.ToScalar(), sOneMinusBeta1 = (1 - Beta1).ToScalar(), sBeta2 = Beta2.ToScalar(), sOneMinusBeta2 = (1 - Beta2).ToScalar(),
                    sEps = eps.ToScalar(), sOne = 1.0.ToScalar(), sSqrtBc2 = sqrtBc2.ToScalar(), sStep = stepSize.ToScalar(), sKeep = keep.ToScalar(), sWd = wd.ToScalar();
                long chunk = ChunkElements > 0 ? Math.Min(ChunkElements, count) : g.Parameters.device_type == DeviceType.CPU ? Math.Min(CpuChunk, count) : count;
                if (wd != 0 && (g.Scratch is null || g.Scratch.numel() < chunk))
                {
                    g.Scratch?.Dispose();
                    g.Scratch = empty(chunk, dtype: g.Parameters.dtype, device: g.Parameters.device).DetachFromDisposeScope();
                }
                for (long start = 0; start < count; start += chunk)
                {
                    using var scope = NewDisposeScope();
                    long n = Math.Min(chunk, count - start);
                    var p = g.Parameters.narrow(0, start, n);
                    var grad = g.Gradients.narrow(0, start, n);
                    var m = g.ExpAvg.narrow(0, start, n);
                    var v = g.ExpAvgSq.narrow(0, start, n);
                    if (_decoupled)
                    {
                        if (wd != 0)
                        {
                            if (g.Mask is null) p.mul_(sKeep);
                            else p.mul_(g.Scratch!.narrow(0, 0, n).copy_(g.Unmasked!.narrow(0, start, n)).add_(g.Mask.narrow(0, start, n), alpha: sKeep)); // exactly keep where decayed, 1 elsewhere
                        }
                    }
                    else if (wd != 0)
                    {
                        grad = g.Scratch!.narrow(0, 0, n).copy_(grad).add_(p, alpha: sWd); // grad + wd p, as grad.add(p, alpha: wd)
                    }
                    m.mul_(sBeta1).add_(grad, alpha: sOneMinusBeta1);
                    v.mul_(sBeta2).addcmul_(grad, grad, value: sOneMinusBeta2);
                    var denom = v.sqrt().div_(sSqrtBc2).add_(sEps, sOne); // alpha given: no temporary Scalar the GC could finalise mid-call // (sqrt(v) / sqrt(bc2)) + eps, a chunk-sized temporary
                    p.addcdiv_(m, denom, value: sStep);
                }
            }
        }

        /// <summary>
        /// The global gradient norm and each block's (after clipping), on the device with no host synchronisation,
        /// from reductions over the flat gradient buffers; with <paramref name="clip"/> &gt; 0 the gradients are scaled
        /// by <c>min(1, clip / (norm + 1e-6))</c>, as <see cref="GradientNorms.Compute"/> does.
        /// </summary>
        public (Tensor Total, Tensor Blocks) GradientNorms(double clip)
        {
            using var scope = NewDisposeScope();
            var device = _groups[0].Gradients.device;
            var blockSquares = zeros(_layers, dtype: ScalarType.Float32, device: device);
            var total = zeros(1, dtype: ScalarType.Float32, device: device).sum();
            foreach (var g in _groups)
            {
                var grad = g.Gradients;
                if (_layers > 0)
                {
                    if (g.BlocksStart >= 0)
                    {
                        var rows = grad.narrow(0, g.BlocksStart, g.BlockSize * g.BlockCount).view(g.BlockCount, g.BlockSize);
                        blockSquares.add_(Squares(rows, 1).to(device));
                    }
                    else
                    {
                        // Blocks of unequal sizes: one reduction per block over its contiguous range.
                        for (int b = 0; b < _layers; b++)
                        {
                            var of = g.Segments.Where(s => s.Block == b).ToList();
                            if (of.Count == 0) continue;
                            var range = grad.narrow(0, of[0].Offset, of.Sum(s => s.Count));
                            blockSquares[b].add_(Squares(range).to(device));
                        }
                    }
                }
                var rest = g.RestCount > 0 ? Squares(grad.narrow(0, g.RestStart, g.RestCount)).to(device) : null;
                if (_layers == 0)
                    total = total + Squares(grad).to(device);
                else if (rest is not null)
                    total = total + rest;
            }
            if (_layers > 0) total = total + blockSquares.sum();
            total = total.sqrt();
            var blockNorms = blockSquares.sqrt();
            if (clip > 0)
            {
                var coefficient = (clip / (total + 1e-6)).clamp_max(1.0);
                using (no_grad())
                    foreach (var g in _groups)
                        g.Gradients.mul_(coefficient.to(g.Gradients.device).to(g.Gradients.dtype));
                blockNorms = blockNorms * coefficient;
            }
            return (total.MoveToOuterDisposeScope(), blockNorms.MoveToOuterDisposeScope());
        }

        /// <summary>The sum of squares (over <paramref name="dim"/>, or all), in fp32: one reduction, no temporary in fp32.</summary>
        private static Tensor Squares(Tensor t, long? dim = null)
        {
            var x = t.dtype == ScalarType.Float32 ? t : t.to(ScalarType.Float32);
            return (dim is { } d ? linalg.vector_norm(x, 2, new[] { d }) : linalg.vector_norm(x, 2)).square();
        }

        /// <summary>Whether <paramref name="path"/> holds this optimiser's state (not TorchSharp's <c>save_state_dict</c>).</summary>
        public static bool IsFlatState(string path)
        {
            if (!File.Exists(path)) return false;
            using var stream = File.OpenRead(path);
            var head = new byte[Magic.Length];
            return stream.Read(head, 0, head.Length) == head.Length && head.AsSpan().SequenceEqual(Magic);
        }

        /// <summary>Writes the step count, the layout (names and sizes, checked on load) and both moments.</summary>
        public void Save(string path)
        {
            using var stream = File.Create(path);
            using var w = new BinaryWriter(stream);
            w.Write(Magic);
            w.Write(_decoupled ? "adamw" : "adam");
            w.Write(StepCount);
            w.Write(_groups.Count);
            foreach (var g in _groups)
            {
                w.Write(g.Segments.Count);
                foreach (var s in g.Segments) { w.Write(s.Name); w.Write(s.Count); }
                g.ExpAvg.Save(w);
                g.ExpAvgSq.Save(w);
            }
        }

        /// <summary>
        /// Restores <see cref="Save"/>'s state. A TorchSharp <c>optim.Adam</c> state (the <c>optimizer.bin</c> of
        /// checkpoints written before the flat optimiser; same algorithm) is converted: loaded into a TorchSharp Adam
        /// over the same parameters, its moments copied into the flat buffers.
        /// </summary>
        public void Load(string path)
        {
            if (!IsFlatState(path)) { LoadTorchSharp(path); return; }
            using var stream = File.OpenRead(path);
            using var r = new BinaryReader(stream);
            r.ReadBytes(Magic.Length);
            string kind = r.ReadString();
            string mine = _decoupled ? "adamw" : "adam";
            if (kind != mine) throw new UserError($"'{path}' holds {kind} state, not {mine}'s; resume with the run's --optimizer");
            long step = r.ReadInt64();
            int groups = r.ReadInt32();
            if (groups != _groups.Count) throw new UserError($"'{path}' has {groups} parameter buffers, the model {_groups.Count} (another model or dtype)");
            foreach (var g in _groups)
            {
                int count = r.ReadInt32();
                var saved = Enumerable.Range(0, count).Select(_ => (Name: r.ReadString(), Count: r.ReadInt64())).ToList();
                if (!saved.SequenceEqual(g.Segments.Select(s => (s.Name, s.Count))))
                    throw new UserError($"'{path}' was written for other parameters than this model's");
                g.ExpAvg.Load(r);
                g.ExpAvgSq.Load(r);
            }
            StepCount = step;
        }

        private void LoadTorchSharp(string path)
        {
            if (_decoupled)
                throw new UserError($"'{path}' holds TorchSharp's Adam state (an earlier lnsrun, or --optimizer torch-adam); it cannot resume an adamw run");
            // A TorchSharp Adam over stand-ins of the same shapes, in the order the flat buffers were built from the
            // model: the saved state is per parameter, in the model's parameter order.
            var segments = _groups.SelectMany(g => g.Segments.Select(s => (Group: g, Segment: s))).ToList();
            var byName = segments.ToDictionary(x => x.Segment.Name);
            var order = _order;
            var standIns = order.Select(n => new Parameter(zeros(byName[n].Segment.Shape, dtype: byName[n].Group.Parameters.dtype, device: byName[n].Group.Parameters.device))).ToList();
            try
            {
                using var adam = optim.Adam(standIns, lr: LearningRate);
                try { adam.load_state_dict(path); }
                catch (Exception e) { throw new UserError($"'{path}' is neither lnsrun's flat optimiser state nor TorchSharp's Adam state that fits this model ({e.Message})"); }
                var states = adam.state_dict().State;
                long step = -1;
                using var _ = no_grad();
                for (int i = 0; i < order.Count; i++)
                {
                    var (g, s) = byName[order[i]];
                    var state = (TorchSharp.Modules.Adam.State)states[i];
                    g.ExpAvg.narrow(0, s.Offset, s.Count).copy_(state.exp_avg.reshape(-1));
                    g.ExpAvgSq.narrow(0, s.Offset, s.Count).copy_(state.exp_avg_sq.reshape(-1));
                    step = Math.Max(step, state.step);
                }
                StepCount = step;
            }
            finally
            {
                foreach (var p in standIns) p.Dispose();
            }
        }

        public void Dispose()
        {
            foreach (var g in _groups) g.Dispose();
            _groups.Clear();
        }

        /// <summary>
        /// The parameters of <paramref name="model"/> as <see cref="FlatParameter"/>s: blocks from names
        /// <c>layers.N.*</c>; AdamW decays matrices (2 or more dimensions) but not norms and biases (1 dimension),
        /// and the embedding only when <paramref name="decayEmbeddings"/>.
        /// </summary>
        public static List<FlatParameter> Describe(TorchSharp.torch.nn.Module model, bool decayEmbeddings)
            => model.named_parameters().Select(p => new FlatParameter(p.name, p.parameter, BlockOf(p.name),
                p.parameter.dim() >= 2 && (decayEmbeddings || !IsEmbedding(p.name)))).ToList();

        /// <summary>Builds the optimiser over <paramref name="model"/> (after it is on its device and dtype and loaded).</summary>
        public static FlatAdam For(TransformerModule model, double lr, double weightDecay, bool decoupled, bool decayEmbeddings)
        {
            var parameters = WithDepthRule(Describe(model, decayEmbeddings), model.Spec);
            return new FlatAdam(parameters, lr, weightDecay, decoupled, model.Spec.Layers);
        }

        /// <summary>Builds the optimiser <paramref name="o"/> names (adam: L2 decay; adamw: decoupled, matrices only, the
        /// embedding with DecayEmbeddings) with its learning rate and weight decay.</summary>
        public static FlatAdam For(TransformerModule model, TrainOptions o) => o.Optimizer switch
        {
            "adam" => For(model, o.Lr, o.WeightDecay, decoupled: false, decayEmbeddings: false),
            "adamw" => For(model, o.Lr, o.WeightDecay, decoupled: true, decayEmbeddings: o.DecayEmbeddings),
            _ => throw new SettingError($"{{Optimizer}} '{o.Optimizer}' has no flat buffers (adam, adamw)"),
        };

        /// <summary>The blocks' parameters with <paramref name="spec"/>'s depth rule applied (CompleteP's table: learning
        /// rate times <see cref="ModelSpec.BlockLrScale"/>, eps times <see cref="ModelSpec.BlockEpsScale"/>; the embedding,
        /// final norm and head keep the base ones); unchanged without a rule.</summary>
        public static List<FlatParameter> WithDepthRule(List<FlatParameter> parameters, ModelSpec spec)
            => spec.ResidualRule == ResidualRule.None ? parameters
                : parameters.Select(p => p.Block >= 0 ? p with { LrScale = spec.BlockLrScale, EpsScale = spec.BlockEpsScale } : p).ToList();

        public static int BlockOf(string name) => TransformerModule.LayerIndexOf(name);

        /// <summary>The token embedding (a tied head shares it).</summary>
        public static bool IsEmbedding(string name) => name.Contains("embed", StringComparison.OrdinalIgnoreCase);
    }
}
