using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Training
{
    /// <summary>The outcome of a run, as measured.</summary>
    /// <param name="ResidentWarmBytes">Resident memory after the first 10 steps of this session (allocator warmed up).</param>
    public sealed record TrainResult(string RunDirectory, int Step, double FirstLoss, double LastLoss, double ValidationLoss,
        double Seconds, double TokensPerSecond, long ResidentStartBytes, long ResidentWarmBytes, long ResidentEndBytes, bool Interrupted);

    /// <summary>
    /// The training loop: the paper's recipe (Adam, no weight decay, linear warmup then cosine decay to 0.1 x peak,
    /// no clipping unless asked), gradient accumulation, periodic evaluation, TensorBoard scalars, atomic
    /// checkpoints, exact resumption, Ctrl+C and divergence handling.
    /// </summary>
    public sealed class Trainer
    {
        private readonly TrainOptions _o;
        private readonly Action<string> _log;
        private readonly Progress _progress;

        /// <summary>Called after each optimiser step with the step and its loss (monitoring, early stopping via the token).</summary>
        public Action<int, double>? OnStep { get; init; }

        /// <summary>Read each step's loss and gradient norms one step late (true), or at once, before the optimiser
        /// step (false). Null (the default): late on CUDA, where reading at once would make the host wait for the GPU.</summary>
        public bool? DeferStatistics { get; init; }

        public Trainer(TrainOptions options, Action<string>? log = null)
        {
            _o = options;
            _log = log ?? Console.WriteLine;
            _progress = new Progress(options.Steps);
        }

        /// <summary>Linear warmup to <paramref name="peak"/>, then cosine decay to <paramref name="minRatio"/> x peak.</summary>
        public static double Schedule(int step, int steps, int warmup, double peak, double minRatio = 0.1)
        {
            if (step <= warmup) return peak * step / Math.Max(1, warmup);
            double progress = Math.Min(1, (double)(step - warmup) / Math.Max(1, steps - warmup));
            return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
        }

        /// <summary>The batch of step <paramref name="step"/> depends on the seed and the step only, so a resumed run draws the same data.</summary>
        public static Random BatchRandom(long seed, int step)
        {
            // SplitMix64 of (seed, step): the same in every process (unlike HashCode, which is randomised per process).
            ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)step + 0x4C4E53UL);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            z ^= z >> 31;
            return new Random(unchecked((int)z ^ (int)(z >> 32)));
        }

        public static Device ResolveDevice(string device)
        {
            string d = device.Trim().ToLowerInvariant();
            if (d == "auto") return cuda.is_available() ? CUDA : CPU;
            if (d == "cpu") return CPU;
            if (d == "cuda" || d.StartsWith("cuda:", StringComparison.Ordinal))
            {
                if (!cuda.is_available())
                    throw new UserError($"--device {device}: CUDA is not available here (this build uses the '{(typeof(torch).Assembly.GetName().Name)}' CPU backend or no GPU is visible); build with -p:LnsTorchBackend=cuda on a CUDA machine, or use --device cpu");
                return torch.device(d);
            }
            throw new UserError($"--device '{device}' is not one of auto, cpu, cuda, cuda:N");
        }

        /// <summary>The dtype named by <c>--dtype</c> (fp32 or bf16); empty: fp32 on the CPU, bf16 on CUDA.</summary>
        public static (ScalarType Type, string Name) ResolveDtype(string dtype, Device device)
        {
            string name = dtype.Length > 0 ? dtype.ToLowerInvariant() : device.type == DeviceType.CUDA ? "bf16" : "fp32";
            return name switch
            {
                "fp32" or "float32" => (ScalarType.Float32, name),
                "bf16" or "bfloat16" => (ScalarType.BFloat16, name),
                _ => throw new UserError($"--dtype '{dtype}' is not fp32 or bf16"),
            };
        }

        public TrainResult Run(CancellationToken cancel = default)
        {
            var o = _o;
            Validate(o);
            var entry = ModelCatalog.Get(o.Model);
            var spec = entry.Spec;
            if (o.Seq > spec.MaxSeq) throw new UserError($"--seq {o.Seq} exceeds {spec.Name}'s MaxSeq {spec.MaxSeq}");
            var device = ResolveDevice(o.Device);
            var (dtype, dtypeName) = ResolveDtype(o.Dtype, device);
            if (o.Threads > 0) set_num_threads(o.Threads);

            string runDir = o.Out ?? Path.Combine("runs", $"{spec.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
            string? resumeFrom = null;
            CheckpointState? resumed = null;
            if (o.Resume)
            {
                if (o.Out is null) throw new UserError("--resume needs --out RUN-DIRECTORY (the run to continue)");
                var checkpoints = Checkpoint.List(runDir);
                if (checkpoints.Count == 0) throw new UserError($"--resume: '{runDir}' has no checkpoint to resume from");
                resumeFrom = checkpoints[^1];
                resumed = Checkpoint.ReadState(resumeFrom);
                if (resumed.Model != spec.Name)
                    throw new UserError($"--resume: '{runDir}' is a run of {resumed.Model}, not {spec.Name}");
                var conflicts = Conflicts(resumed.Options, o);
                if (conflicts.Count > 0)
                    throw new UserError($"--resume: these options differ from the run being resumed: {string.Join(", ", conflicts)}; pass the run's values (see {Path.Combine(runDir, "config.json")}) or start a new run");
            }
            else if (Checkpoint.List(runDir).Count > 0)
            {
                throw new UserError($"'{runDir}' already holds a run with checkpoints; pass --resume to continue it, or choose another --out");
            }

            using var data = DataSet.ForRun(o, spec, _log);
            var tokenizer = data.Tokenizer;
            if (tokenizer.VocabSize > spec.Vocab)
                throw new UserError($"the tokenizer '{tokenizer.Name}' has {tokenizer.VocabSize} ids but {spec.Name} has Vocab = {spec.Vocab}; use --compact {spec.Vocab} (or a model with a larger Vocab)");
            if (o.Packing == Packing.Pack && (data.Train.Count <= o.Seq + 1 || data.Valid.Count <= o.Seq + 1))
                throw new UserError($"the data has {data.Train.Count:N0} training and {data.Valid.Count:N0} validation tokens, too few for --seq {o.Seq}; give more text or a shorter --seq");
            if (o.Packing == Packing.Document && data.Valid.Documents < 1)
                throw new UserError("document packing needs at least one validation document (20 or more documents in the data)");
            if (resumed is not null && resumed.DataFingerprint != data.Directory)
                throw new UserError($"--resume: the data or tokenizer differ from the run's ({resumed.Tokenizer}); pass the same --data, --tokenizer and --compact");

            Directory.CreateDirectory(runDir);
            var c = CultureInfo.InvariantCulture;
            _log(spec.Describe().TrimEnd());
            _log(string.Format(c, "data: {0}; {1:N0} training tokens in {2} documents, {3:N0} validation tokens in {4}; tokenizer {5}",
                data.Description, data.Train.Count, data.Train.Documents, data.Valid.Count, data.Valid.Documents, tokenizer.Name));
            File.WriteAllText(Path.Combine(runDir, "config.json"), JsonSerializer.Serialize(new
            {
                options = o with { Out = runDir, Resume = false },
                model = spec.Name,
                architecture = Checkpoint.ArchitectureOf(spec),
                parameters = spec.ParameterCount,
                tokenizer = tokenizer.Name,
                vocab = tokenizer.VocabSize,
                data = data.Description,
                cache = data.Directory,
                device = device.ToString(),
                dtype = dtypeName,
                threads = get_num_threads(),
            }, Checkpoint.Json));
            Tokenizers.Save(tokenizer, Path.Combine(runDir, "tokenizer.json"));

            manual_seed(o.Seed);
            using var model = entry.Create(o.Seed);
            // Resumed weights are loaded on the CPU, before the move and before the optimiser exists: the optimiser
            // keys its state by the parameters it is given, so it must see the parameters that will train.
            if (resumeFrom is not null) Checkpoint.LoadModel(resumeFrom, model);
            model.to(device);
            if (dtype != ScalarType.Float32) model.to(dtype);
            var optimizer = optim.Adam(model.parameters(), lr: o.Lr, weight_decay: o.WeightDecay);
            int startStep = 0;
            if (resumeFrom is not null && resumed is not null)
            {
                optimizer.load_state_dict(Path.Combine(resumeFrom, "optimizer.bin"));
                if (resumed.TorchRngState.Length > 0)
                    set_rng_state(tensor(Convert.FromBase64String(resumed.TorchRngState)));
                startStep = resumed.Step;
                _log($"resuming from {resumeFrom} (step {startStep})");
                TruncateMetrics(Path.Combine(runDir, "metrics.jsonl"), startStep);
                TruncateMetrics(Path.Combine(runDir, "eval.jsonl"), startStep);
            }
            var state = new CheckpointState { Model = spec.Name, Architecture = Checkpoint.ArchitectureOf(spec), Tokenizer = tokenizer.Name, DataFingerprint = data.Directory, Options = o with { Out = runDir, Resume = false, StopAt = 0 } };

            int micro = o.MicroBatch > 0 ? o.MicroBatch : o.Batch;
            int accumulation = o.Batch / micro;
            long tokensPerStep = (long)o.Batch * o.Seq;
            using var metrics = new StreamWriter(Path.Combine(runDir, "metrics.jsonl"), append: true);
            using var evals = new StreamWriter(Path.Combine(runDir, "eval.jsonl"), append: true);
            var board = utils.tensorboard.SummaryWriter(Path.Combine(runDir, "tensorboard"));
            long residentStart = Environment.WorkingSet, residentWarm = 0;
            _log(string.Format(c, "training {0} steps of {1} x {2} tokens ({3} micro-batch(es) of {4}) on {5} {6}, {7} threads; resident memory {8:N0} MB",
                o.Steps, o.Batch, o.Seq, accumulation, micro, device, dtypeName, get_num_threads(), residentStart / 1e6));

            var clock = Stopwatch.StartNew();
            double first = double.NaN, last = double.NaN, validation = double.NaN;
            int step = startStep;
            bool interrupted = false;
            // Every parameter with its block (0-based), or -1 outside the blocks (embedding, final norm, head).
            var parameters = model.named_parameters()
                .Select(p => (Block: p.name.StartsWith("layers.", StringComparison.Ordinal) ? int.Parse(p.name.Split('.')[1]) : -1, p.parameter)).ToList();
            // The step's loss and gradient norms stay on the device. On the CPU they are read at once, before the
            // optimiser step (a non-finite step is never applied). On CUDA they are read one step later, after the
            // next step has been queued, so the host never waits for the GPU inside a step; evaluations and
            // checkpoints read them first, so a checkpoint is only ever written after its step was seen to be finite.
            bool lagged = DeferStatistics ?? device.type == DeviceType.CUDA;
            StepStats? pending = null;
            void Report(StepStats s)
            {
                using (s)
                {
                    double loss = s.Loss.item<float>(), gradNorm = s.GradNorm.item<float>();
                    var blockNorms = s.BlockNorms.to(ScalarType.Float64).cpu().data<double>().Select(v => Math.Round(v, 6)).ToArray();
                    if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
                    {
                        string kept = Checkpoint.List(runDir) is { Count: > 0 } list ? $"the last good checkpoint is {list[^1]}" : "no checkpoint was written yet";
                        throw new UserError($"the loss became {loss} (gradient norm {gradNorm}) at step {s.Step}; stopping. {kept}. Lower --lr (now {o.Lr}), add --clip, or use a more stable placement.", exitCode: 3);
                    }
                    if (s.Step == startStep + 1) first = loss;
                    if (s.Step == startStep + 10) residentWarm = Environment.WorkingSet;
                    last = loss;
                    double elapsed = clock.Elapsed.TotalSeconds;
                    double tokensPerSecond = (s.Step - startStep) * tokensPerStep / elapsed;
                    metrics.WriteLine(JsonSerializer.Serialize(new { step = s.Step, loss, lr = s.Lr, grad_norm = gradNorm, tokens_per_second = tokensPerSecond, elapsed_s = elapsed, resident_mb = Environment.WorkingSet / 1e6, block_grad_norms = blockNorms }));
                    board.add_scalar("train/loss", (float)loss, s.Step);
                    board.add_scalar("train/lr", (float)s.Lr, s.Step);
                    board.add_scalar("train/grad_norm", (float)gradNorm, s.Step);
                    board.add_scalar("train/tokens_per_second", (float)tokensPerSecond, s.Step);
                    _progress.Update(s.Step, loss, s.Lr, tokensPerSecond, elapsed, (s.Step - startStep) / elapsed);
                    OnStep?.Invoke(s.Step, loss);
                }
            }
            void ReportPending()
            {
                if (pending is null) return;
                var s = pending;
                pending = null;
                Report(s);
            }
            try
            {
                while (step < o.Steps)
                {
                    if (cancel.IsCancellationRequested) { interrupted = true; break; }
                    step++;
                    double lr = Schedule(step, o.Steps, o.Warmup, o.Lr, o.MinLrRatio);
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                    optimizer.zero_grad();
                    var random = BatchRandom(o.Seed, step);
                    var loss = zeros(1, dtype: ScalarType.Float32, device: device);
                    for (int m = 0; m < accumulation; m++)
                    {
                        using var scope = NewDisposeScope();
                        var (x, y) = Batches.Sample(data.Train, o.Packing, micro, o.Seq, tokenizer.EndOfText, random);
                        var l = Loss(model, x.to(device), y.to(device), spec.Vocab) / accumulation;
                        l.backward();
                        loss.add_(l.detach());
                    }
                    var (gradNorm, blockNorms) = GradientNorms(parameters, spec.Layers, o.Clip, device);
                    var stats = new StepStats(step, lr, loss, gradNorm, blockNorms);
                    if (!lagged) Report(stats); // throws before the step on a non-finite loss or gradient
                    optimizer.step();
                    if (lagged)
                    {
                        ReportPending(); // the previous step, read while this one runs
                        pending = stats;
                    }

                    bool end = step == o.Steps;
                    bool stop = o.StopAt > 0 && step >= o.StopAt;
                    bool evaluate = o.EvalEvery > 0 && step % o.EvalEvery == 0 || end;
                    bool save = o.CheckpointEvery > 0 && step % o.CheckpointEvery == 0 || end || stop || cancel.IsCancellationRequested;
                    if (evaluate || save) ReportPending();
                    if (evaluate)
                    {
                        validation = Evaluate(model, data.Valid, o.Packing, o.EvalBatches, micro, o.Seq, tokenizer.EndOfText, spec.Vocab, device);
                        evals.WriteLine(JsonSerializer.Serialize(new { step, validation_loss = validation, validation_perplexity = Math.Exp(validation) }));
                        evals.Flush();
                        board.add_scalar("valid/loss", (float)validation, step);
                        _progress.Message(string.Format(c, "step {0}: validation loss {1:F4}, perplexity {2:F2}", step, validation, Math.Exp(validation)));
                    }
                    if (save)
                    {
                        metrics.Flush();
                        Checkpoint.Save(runDir, step, model, optimizer, tokenizer, state with { TorchRngState = Convert.ToBase64String(get_rng_state().data<byte>().ToArray()) }, o.KeepCheckpoints);
                    }
                    if (stop && !end) { interrupted = true; break; }
                }
                ReportPending();
            }
            finally
            {
                pending?.Dispose();
            }
            _progress.Done(); // an interrupted run saved its checkpoint at the end of its last step, above
            double seconds = clock.Elapsed.TotalSeconds;
            long residentEnd = Environment.WorkingSet;
            if (residentWarm == 0) residentWarm = residentEnd;
            var result = new TrainResult(runDir, step, first, last, validation, seconds, (step - startStep) * tokensPerStep / Math.Max(seconds, 1e-9), residentStart, residentWarm, residentEnd, interrupted);
            File.WriteAllText(Path.Combine(runDir, "summary.json"), JsonSerializer.Serialize(result, Checkpoint.Json));
            _log(string.Format(c, "{0} at step {1}: train loss {2:F4} -> {3:F4}; validation loss {4:F4}, perplexity {5:F2}; {6:F1}s, {7:N0} tokens/s",
                interrupted ? "stopped" : "done", step, first, last, validation, Math.Exp(validation), seconds, result.TokensPerSecond));
            _log(string.Format(c, "resident memory: {0:N0} MB at start, {1:N0} MB after 10 steps, {2:N0} MB at the end", residentStart / 1e6, residentWarm / 1e6, residentEnd / 1e6));
            _log($"run directory: {runDir} (checkpoints, metrics.jsonl, eval.jsonl, tensorboard/)");
            return result;
        }

        /// <summary>A step's loss and gradient norms, still on the device.</summary>
        private sealed record StepStats(int Step, double Lr, Tensor Loss, Tensor GradNorm, Tensor BlockNorms) : IDisposable
        {
            public void Dispose()
            {
                Loss.Dispose();
                GradNorm.Dispose();
                BlockNorms.Dispose();
            }
        }

        /// <summary>
        /// The global gradient norm and each block's (after clipping, as the optimiser sees them), computed on the
        /// device with no host synchronisation. With <paramref name="clip"/> &gt; 0 the gradients are scaled by
        /// <c>min(1, clip / (norm + 1e-6))</c>, as <c>clip_grad_norm_</c> does.
        /// </summary>
        private static (Tensor Total, Tensor Blocks) GradientNorms(List<(int Block, TorchSharp.Modules.Parameter Parameter)> parameters, int layers, double clip, Device device)
        {
            using var scope = NewDisposeScope();
            var all = new List<Tensor>();
            var perBlock = new List<Tensor>[layers];
            for (int i = 0; i < layers; i++) perBlock[i] = new List<Tensor>();
            foreach (var (block, p) in parameters)
            {
                if (p.grad is not { } g) continue;
                var square = g.to(ScalarType.Float32).square().sum(); // once per parameter, for both norms
                all.Add(square);
                if (block >= 0) perBlock[block].Add(square);
            }
            var zero = zeros(1, dtype: ScalarType.Float32, device: device).sum();
            var total = all.Count > 0 ? stack(all).sum().sqrt() : zero;
            var blockNorms = stack(perBlock.Select(list => list.Count > 0 ? stack(list).sum() : zero).ToArray()).sqrt();
            if (clip > 0)
            {
                var coefficient = (clip / (total + 1e-6)).clamp_max(1.0);
                using (no_grad())
                    foreach (var (_, p) in parameters)
                        p.grad?.mul_(coefficient.to(p.grad.dtype));
                blockNorms = blockNorms * coefficient;
            }
            return (total.MoveToOuterDisposeScope(), blockNorms.MoveToOuterDisposeScope());
        }

        internal static Tensor Loss(TransformerModule model, Tensor x, Tensor y, int vocab) => CrossEntropy(model.forward(x), y, vocab);

        /// <summary>Next-token cross-entropy in fp32 over <c>[B, T, vocab]</c> logits, padding (<see cref="Batches.Ignore"/>) left out.</summary>
        internal static Tensor CrossEntropy(Tensor logits, Tensor targets, int vocab, nn.Reduction reduction = nn.Reduction.Mean)
            => nn.functional.cross_entropy(logits.reshape(-1, vocab).to(ScalarType.Float32), targets.reshape(-1), ignore_index: Batches.Ignore, reduction: reduction);

        /// <summary>Summed next-token cross-entropy in fp32, padding left out.</summary>
        internal static double SumLoss(Tensor logits, Tensor targets, int vocab) => CrossEntropy(logits, targets, vocab, nn.Reduction.Sum).item<float>();

        /// <summary>Mean next-token loss over the fixed validation batches (the first <paramref name="batches"/>).</summary>
        public static double Evaluate(TransformerModule model, TokenStream valid, Packing packing, int batches, int batch, int seq, int endOfText, int vocab, Device device)
        {
            using var noGrad = no_grad();
            int available = Batches.FixedCount(valid, packing, batch, seq);
            if (available == 0) { batch = 1; available = Batches.FixedCount(valid, packing, 1, seq); }
            int n = Math.Max(1, Math.Min(batches, available));
            double total = 0;
            long count = 0;
            for (int i = 0; i < n; i++)
            {
                using var scope = NewDisposeScope();
                var (x, y) = Batches.Fixed(valid, packing, i, batch, seq, endOfText);
                var targets = y.to(device).reshape(-1);
                total += SumLoss(model.forward(x.to(device)), targets, vocab);
                count += targets.ne(Batches.Ignore).sum().item<long>();
            }
            return total / Math.Max(1, count);
        }

        private static void Validate(TrainOptions o)
        {
            if (o.Steps < 1) throw new UserError("--steps must be at least 1");
            if (o.Batch < 1) throw new UserError("--batch must be at least 1");
            if (o.MicroBatch < 0 || (o.MicroBatch > 0 && o.Batch % o.MicroBatch != 0))
                throw new UserError($"--micro-batch {o.MicroBatch} must divide --batch {o.Batch} (gradients accumulate over batch / micro-batch passes)");
            if (o.Seq < 2) throw new UserError("--seq must be at least 2");
            if (!(o.Lr > 0) || double.IsInfinity(o.Lr)) throw new UserError("--lr must be a positive number");
            if (o.Warmup < 0 || o.Warmup >= o.Steps) throw new UserError($"--warmup must be in [0, --steps) (got {o.Warmup} with {o.Steps} steps)");
            if (o.MinLrRatio is < 0 or > 1) throw new UserError("--min-lr-ratio must be in [0, 1]");
            if (o.Clip < 0) throw new UserError("--clip must be 0 (off) or positive");
            if (o.StopAt < 0 || o.StopAt > o.Steps) throw new UserError($"--stop-at must be in [0, --steps]");
            if (o.KeepCheckpoints < 1) throw new UserError("--keep must be at least 1");
        }

        /// <summary>Options that must match between a run and its resumption.</summary>
        private static List<string> Conflicts(TrainOptions saved, TrainOptions now)
        {
            var list = new List<string>();
            void Check<T>(string name, T a, T b) { if (!EqualityComparer<T>.Default.Equals(a, b)) list.Add($"--{name} {b} (run: {a})"); }
            Check("steps", saved.Steps, now.Steps);
            Check("batch", saved.Batch, now.Batch);
            Check("micro-batch", saved.MicroBatch, now.MicroBatch);
            Check("seq", saved.Seq, now.Seq);
            Check("lr", saved.Lr, now.Lr);
            Check("warmup", saved.Warmup, now.Warmup);
            Check("min-lr-ratio", saved.MinLrRatio, now.MinLrRatio);
            Check("clip", saved.Clip, now.Clip);
            Check("seed", saved.Seed, now.Seed);
            Check("packing", saved.Packing, now.Packing);
            Check("tokenizer", saved.Tokenizer, now.Tokenizer);
            Check("compact", saved.Compact, now.Compact);
            Check("data", saved.Data, now.Data);
            return list;
        }

        private static void TruncateMetrics(string path, int step)
        {
            if (!File.Exists(path)) return;
            var kept = File.ReadAllLines(path).Where(line =>
            {
                try { return JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt32() <= step; }
                catch (JsonException) { return false; }
            }).ToList();
            AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join("\n", kept) + "\n");
        }
    }
}
