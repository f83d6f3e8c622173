using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Training
{
    /// <summary>
    /// The training loop: the paper's recipe (Adam, no weight decay, linear warmup then cosine decay to 0.1 x peak,
    /// no clipping unless asked), gradient accumulation, periodic evaluation, atomic checkpoints, exact
    /// resumption, cancellation and divergence handling. Records go to <see cref="IRunSink"/>s (console, the run
    /// directory's JSON lines, TensorBoard).
    /// </summary>
    public sealed class Trainer
    {
        private readonly TrainOptions _o;
        private readonly Action<string> _log;

        /// <summary>Called after each optimiser step with the step and its loss (monitoring, early stopping via the token).</summary>
        public Action<int, double>? OnStep { get; init; }

        /// <summary>Read each step's loss and gradient norms one step late (true), or at once, before the optimiser
        /// step (false). Null (the default): late on CUDA, where reading at once would make the host wait for the GPU.</summary>
        public bool? DeferStatistics { get; init; }

        /// <summary>
        /// Loads starting weights that are not a run's checkpoint into the new model (fine-tuning an imported model:
        /// <see cref="TrainOptions.StartFrom"/> is then <c>hf:DIRECTORY</c> and the front end that registered the
        /// imported model supplies this). Not called when a run is resumed: its checkpoint has the weights.
        /// </summary>
        public Action<TransformerModule>? LoadStartingWeights { get; init; }

        /// <summary>The model class to train (a checkpoint's class resolved by LnsDsl.Loading.ModelSources: a converted or
        /// restored class this process only has because it compiled it); null: the class <see cref="TrainOptions.Model"/>
        /// names in the catalogue.</summary>
        public ModelEntry? Model { get; init; }

        /// <summary>Whether to draw the progress line on the console (the run directory's records are always written).</summary>
        public bool Console { get; init; } = true;

        public Trainer(TrainOptions options, Action<string>? log = null)
        {
            _o = options;
            _log = log ?? System.Console.WriteLine;
        }

        /// <summary>What a run resolves to before anything is written.</summary>
        private sealed record Plan(ModelEntry Entry, Device Device, Precision Precision, string DtypeName, RunDirectory Run, string? ResumeFrom, CheckpointState? Resumed);

        public TrainResult Run(CancellationToken cancel = default)
        {
            Validate(_o);
            var plan = MakePlan(_o, Model);
            if (_o.Threads > 0) set_num_threads(_o.Threads);
            using var data = OpenData(plan);
            WriteConfig(plan, data);
            using var model = Initialise(plan.Entry, _o.Seed);
            // Resumed weights are loaded on the CPU, before the move and before the optimiser exists: the optimiser
            // keys its state by the parameters it is given, so it must see the parameters that will train.
            if (plan.ResumeFrom is not null) Checkpoint.LoadVerified(plan.ResumeFrom, plan.Resumed!, model); // verified once, in MakePlan
            else if (_o.StartFrom is { } from) // fine-tuning: the pre-trained weights, a fresh optimiser
            {
                if (from.StartsWith(ImportedPrefix, StringComparison.Ordinal))
                {
                    (LoadStartingWeights ?? throw new UserError($"{from}: an imported model's weights need a loader (lnsrun finetune --hf supplies it)"))(model);
                    _log($"starting from {from[ImportedPrefix.Length..]} (imported)");
                }
                else
                {
                    var start = Checkpoint.LoadModel(Checkpoint.Resolve(from), model);
                    _log($"starting from {Checkpoint.Resolve(from)} ({start.Model} at step {start.Step})");
                }
            }
            model.to(plan.Device);
            plan.Precision.Apply(model); // bf16: fp32 parameters computing in bf16 (mixed precision); bf16-pure: cast to bf16
            using var optimizer = CreateOptimizer(_o, model);
            int startStep = Resume(plan, optimizer);
            var session = new Session(this, plan, data, model, optimizer, startStep);
            return session.Train(cancel);
        }

        /// <summary>How <see cref="TrainOptions.StartFrom"/> names an imported (Hugging Face) checkpoint directory.</summary>
        public const string ImportedPrefix = "hf:";

        /// <summary>The optimisers {Optimizer} names.</summary>
        public static readonly string[] Optimizers = { "adam", "adamw", "torch-adam" };

        /// <summary>
        /// The optimiser of <paramref name="o"/> over <paramref name="model"/>, which must already be on its device and
        /// dtype with its weights loaded (the flat optimisers re-point the parameters into their buffers).
        /// </summary>
        public static ITrainingOptimizer CreateOptimizer(TrainOptions o, TransformerModule model) => o.Optimizer switch
        {
            "adam" or "adamw" => FlatAdam.For(model, o),
            "torch-adam" when model.Spec.ResidualRule != ResidualRule.None
                => throw new UserError($"{model.Spec.Name} has {model.Spec.ResidualRule}'s per-group learning rates and eps, which --optimizer torch-adam (one group) cannot apply; use --optimizer adam or adamw"),
            "torch-adam" => new TorchOptimizer(optim.Adam(model.parameters(), lr: o.Lr, weight_decay: o.WeightDecay)),
            _ => throw new SettingError($"{{Optimizer}} '{o.Optimizer}' is not one of {string.Join(", ", Optimizers)}"),
        };

        /// <summary>Checks the options on their own (no model, data or file needed).</summary>
        public static void Validate(TrainOptions o)
        {
            if (o.Steps < 1) throw new SettingError("{Steps} must be at least 1");
            if (o.Batch < 1) throw new SettingError("{Batch} must be at least 1");
            if (o.MicroBatch < 0 || (o.MicroBatch > 0 && o.Batch % o.MicroBatch != 0))
                throw new SettingError($"{{MicroBatch}} {o.MicroBatch} must divide {{Batch}} {o.Batch} (gradients accumulate over batch / micro-batch passes)");
            if (o.Seq < 2) throw new SettingError("{Seq} must be at least 2");
            if (!(o.Lr > 0) || double.IsInfinity(o.Lr)) throw new SettingError("{Lr} must be a positive number");
            if (o.Warmup < 0 || o.Warmup >= o.Steps) throw new SettingError($"{{Warmup}} must be in [0, {{Steps}}) (got {o.Warmup} with {o.Steps} steps)");
            if (o.MinLrRatio is < 0 or > 1) throw new SettingError("{MinLrRatio} must be in [0, 1]");
            if (!Optimizers.Contains(o.Optimizer)) throw new SettingError($"{{Optimizer}} '{o.Optimizer}' is not one of {string.Join(", ", Optimizers)}");
            if (o.DecayEmbeddings && o.Optimizer != "adamw") throw new SettingError("{DecayEmbeddings} applies to {Optimizer} adamw only");
            if (o.Clip < 0) throw new SettingError("{Clip} must be 0 (off) or positive");
            if (o.StopAt < 0 || o.StopAt > o.Steps) throw new SettingError("{StopAt} must be in [0, {Steps}]");
            if (o.KeepCheckpoints < 1) throw new SettingError("{KeepCheckpoints} must be at least 1");
            if (o.EvalBatches < 1) throw new SettingError("{EvalBatches} must be at least 1");
            if (o.Compact < -1) throw new SettingError("{Compact} must be -1 (to the model's vocabulary), 0 (never) or a vocabulary size");
        }

        private static Plan MakePlan(TrainOptions o, ModelEntry? model)
        {
            var entry = model ?? ModelCatalog.Get(o.Model);
            var spec = entry.Spec;
            if (o.Seq > spec.MaxSeq) throw new SettingError($"{{Seq}} {o.Seq} exceeds {spec.Name}'s MaxSeq {spec.MaxSeq}");
            var device = Devices.Resolve(o.Device);
            var dtype = Devices.ResolvePrecision(o.Dtype, device);
            string dtypeName = dtype.Name;
            var run = new RunDirectory(o.Out ?? Path.Combine("runs", $"{spec.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
            if (!o.Resume)
            {
                if (run.Checkpoints.Count > 0)
                    throw new SettingError($"'{run.Path}' already holds a run with checkpoints; set {{Resume}} to continue it, or choose another {{Out}}");
                return new Plan(entry, device, dtype, dtypeName, run, null, null);
            }
            if (o.Out is null) throw new SettingError("{Resume} needs {Out}: the run directory to continue");
            if (run.Checkpoints.Count == 0) throw new SettingError($"{{Resume}}: '{run.Path}' has no checkpoint to resume from");
            string from = run.Checkpoints[^1];
            var resumed = Checkpoint.ReadState(from);
            if (resumed.Model != spec.Name)
                throw new SettingError($"{{Resume}}: '{run.Path}' is a run of {resumed.Model}, not {spec.Name}");
            if (Checkpoint.Mismatch(from, resumed, spec) is { } why) throw new UserError(why);
            var conflicts = Conflicts(resumed.Options, o);
            if (conflicts.Count > 0)
                throw new SettingError($"{{Resume}}: these settings differ from the run being resumed: {string.Join(", ", conflicts)}; give the run's values (see {run.ConfigFile}) or start a new run");
            return new Plan(entry, device, dtype, dtypeName, run, from, resumed);
        }

        private ITrainingData OpenData(Plan plan)
        {
            var o = _o;
            var spec = plan.Entry.Spec;
            ITrainingData data = o.FineTune ? OpenInstructions(o, spec) : OpenCorpus(o, spec, _log);
            try
            {
                CheckVocabulary(data.Tokenizer, spec);
                if (plan.Resumed is { } resumed)
                {
                    var differences = resumed.Data is { } saved
                        ? saved.Differences(data.Identity)
                        : resumed.DataFingerprint == data.CacheDirectory ? Array.Empty<string>() : new[] { $"token cache: {resumed.DataFingerprint} (saved) vs {data.CacheDirectory} (now)" };
                    if (differences.Count > 0)
                        throw new SettingError($"{{Resume}}: the data differ from the run's ({string.Join("; ", differences)}); give the same {{Data}}, {{Tokenizer}} and {{Compact}}");
                }
                return data;
            }
            catch
            {
                data.Dispose();
                throw;
            }
        }

        private static void CheckVocabulary(ITextTokenizer tokenizer, ModelSpec spec)
        {
            if (tokenizer.VocabSize > spec.Vocab)
                throw new SettingError($"the tokenizer '{tokenizer.Name}' has {tokenizer.VocabSize} ids but {spec.Name} has Vocab = {spec.Vocab}; set {{Compact}} to {spec.Vocab} (or use a model with a larger Vocab)");
        }

        /// <summary>The weights a run of <paramref name="entry"/> with <paramref name="seed"/> starts from (the generator
        /// seeded, then the model created): what <c>lnsrun train</c> trains and <c>export --pytorch</c> hands to train.py.</summary>
        public static TransformerModule Initialise(ModelEntry entry, long seed)
        {
            manual_seed(seed);
            return entry.Create(seed);
        }

        /// <summary>A pre-training run's corpus as <see cref="Run"/> opens it (the token cache built or found, its size and
        /// vocabulary checked against the options and the model).</summary>
        public static CorpusTrainingData OpenCorpus(TrainOptions o, ModelSpec spec, Action<string> log)
        {
            var data = DataSet.ForModel(o.Data, o.Tokenizer, o.Compact, spec, log);
            try
            {
                CheckVocabulary(data.Tokenizer, spec);
                if (o.Packing == Packing.Pack && (data.Train.Count <= o.Seq + 1 || data.Valid.Count <= o.Seq + 1))
                    throw new SettingError($"the data has {data.Train.Count:N0} training and {data.Valid.Count:N0} validation tokens, too few for {{Seq}} {o.Seq}; give more text or a shorter {{Seq}}");
                if (o.Packing == Packing.Document && data.Valid.Documents < 1)
                    throw new SettingError("{Packing} document needs at least one validation document (20 or more documents in the data)");
                return new CorpusTrainingData(data, o.Packing);
            }
            catch
            {
                data.Dispose();
                throw;
            }
        }

        /// <summary>Fine-tuning: instruction examples, tokenised with the starting checkpoint's tokenizer (or the named one).</summary>
        private static InstructionTrainingData OpenInstructions(TrainOptions o, ModelSpec spec)
        {
            if (o.Data is null) throw new SettingError("fine-tuning needs {Data}: a .jsonl file of instruction examples");
            var tokenizer = o.StartFrom is { } from && !from.StartsWith(ImportedPrefix, StringComparison.Ordinal)
                ? Tokenizers.Load(Path.Combine(Checkpoint.Resolve(from), "tokenizer.json"))
                : Tokenizers.Create(o.Tokenizer);
            return new InstructionTrainingData(o.Data, tokenizer, o.Seq);
        }

        /// <summary>What a checkpoint records of a corpus.</summary>
        public static DataIdentity IdentityOf(DataSet data) => new CorpusTrainingData(data, Packing.Pack).Identity;

        private void WriteConfig(Plan plan, ITrainingData data)
        {
            var spec = plan.Entry.Spec;
            var c = CultureInfo.InvariantCulture;
            Directory.CreateDirectory(plan.Run.Path);
            _log(spec.Describe().TrimEnd());
            _log("data: " + data.Summary);
            plan.Run.WriteConfig(new RunConfig
            {
                Options = _o with { Out = plan.Run.Path, Resume = false },
                Model = spec.Name,
                Architecture = Checkpoint.Describe(spec),
                Spec = spec,
                Parameters = spec.ParameterCount,
                Tokenizer = data.Tokenizer.Name,
                Vocab = data.Tokenizer.VocabSize,
                Data = data.Identity.Description,
                Cache = data.CacheDirectory,
                Device = plan.Device.ToString(),
                Dtype = plan.DtypeName,
                Threads = get_num_threads(),
            });
            Tokenizers.Save(data.Tokenizer, plan.Run.TokenizerFile);
        }

        /// <summary>Restores the optimiser and the RNG of a resumed run and drops its records past the checkpoint; the step to start after.</summary>
        private int Resume(Plan plan, ITrainingOptimizer optimizer)
        {
            if (plan.ResumeFrom is null || plan.Resumed is null) return 0;
            try { optimizer.Load(Path.Combine(plan.ResumeFrom, "optimizer.bin")); }
            catch (UserError e) { throw new UserError($"{{Resume}}: checkpoint '{plan.ResumeFrom}': {e.Message}"); }
            if (plan.Resumed.TorchRngState.Length > 0)
                set_rng_state(tensor(Convert.FromBase64String(plan.Resumed.TorchRngState)));
            _log($"resuming from {plan.ResumeFrom} (step {plan.Resumed.Step})");
            plan.Run.TruncateAfter(plan.Resumed.Step);
            return plan.Resumed.Step;
        }

        /// <summary>Settings that must match between a run and its resumption.</summary>
        private static List<string> Conflicts(TrainOptions saved, TrainOptions now)
        {
            var list = new List<string>();
            void Check<T>(string name, T a, T b) { if (!EqualityComparer<T>.Default.Equals(a, b)) list.Add($"{{{name}}} {b} (run: {a})"); }
            Check(nameof(TrainOptions.Steps), saved.Steps, now.Steps);
            Check(nameof(TrainOptions.Batch), saved.Batch, now.Batch);
            Check(nameof(TrainOptions.MicroBatch), saved.MicroBatch, now.MicroBatch);
            Check(nameof(TrainOptions.Seq), saved.Seq, now.Seq);
            Check(nameof(TrainOptions.Lr), saved.Lr, now.Lr);
            Check(nameof(TrainOptions.Warmup), saved.Warmup, now.Warmup);
            Check(nameof(TrainOptions.MinLrRatio), saved.MinLrRatio, now.MinLrRatio);
            Check(nameof(TrainOptions.WeightDecay), saved.WeightDecay, now.WeightDecay);
            // adam and torch-adam are one algorithm (the same numbers; the flat one reads TorchSharp's state).
            static string Family(string optimizer) => optimizer == "torch-adam" ? "adam" : optimizer;
            if (Family(saved.Optimizer) != Family(now.Optimizer)) list.Add($"{{{nameof(TrainOptions.Optimizer)}}} {now.Optimizer} (run: {saved.Optimizer})");
            Check(nameof(TrainOptions.DecayEmbeddings), saved.DecayEmbeddings, now.DecayEmbeddings);
            Check(nameof(TrainOptions.Clip), saved.Clip, now.Clip);
            Check(nameof(TrainOptions.Seed), saved.Seed, now.Seed);
            Check(nameof(TrainOptions.Packing), saved.Packing, now.Packing);
            Check(nameof(TrainOptions.Tokenizer), saved.Tokenizer, now.Tokenizer);
            Check(nameof(TrainOptions.Compact), saved.Compact, now.Compact);
            Check(nameof(TrainOptions.Data), saved.Data is null ? null : Corpus.Normalize(saved.Data), now.Data is null ? null : Corpus.Normalize(now.Data)); // a run recorded before paths were made absolute
            Check(nameof(TrainOptions.FineTune), saved.FineTune, now.FineTune);
            Check(nameof(TrainOptions.StartFrom), saved.StartFrom, now.StartFrom);
            return list;
        }

        /// <summary>One training session of a run: the loop, its step, its evaluations and its checkpoints.</summary>
        private sealed class Session
        {
            private readonly Trainer _trainer;
            private readonly TrainOptions _o;
            private readonly Plan _plan;
            private readonly ITrainingData _data;
            private readonly TransformerModule _model;
            private readonly ITrainingOptimizer _optimizer;
            private readonly int _startStep;
            private readonly int _micro;
            private readonly int _accumulation;
            private readonly long _tokensPerStep;
            private readonly CheckpointState _state;
            /// <summary>Every parameter with its block (0-based), or -1 outside the blocks (embedding, final norm, head).</summary>
            private readonly List<(int Block, TorchSharp.Modules.Parameter Parameter)> _parameters;
            private readonly Stopwatch _clock = new();
            private double _first = double.NaN, _last = double.NaN, _validation = double.NaN;
            private long _residentWarm;

            public Session(Trainer trainer, Plan plan, ITrainingData data, TransformerModule model, ITrainingOptimizer optimizer, int startStep)
            {
                _trainer = trainer;
                _o = trainer._o;
                _plan = plan;
                _data = data;
                _model = model;
                _optimizer = optimizer;
                _startStep = startStep;
                _micro = _o.MicroBatchSize;
                _accumulation = _o.Batch / _micro;
                _tokensPerStep = (long)_o.Batch * _o.Seq;
                _state = Checkpoint.For(model.Spec) with
                {
                    Data = data.Identity,
                    Tokenizer = data.Tokenizer.Name,
                    Options = _o with { Out = plan.Run.Path, Resume = false, StopAt = 0 },
                };
                _parameters = model.named_parameters()
                    .Select(p => (Block: TransformerModule.LayerIndexOf(p.name), p.parameter)).ToList();
            }

            public TrainResult Train(CancellationToken cancel)
            {
                var o = _o;
                var run = _plan.Run;
                var c = CultureInfo.InvariantCulture;
                long residentStart = Environment.WorkingSet;
                _trainer._log(string.Format(c, "training {0} steps of {1} x {2} tokens ({3} micro-batch(es) of {4}) on {5} {6}, {7} threads; resident memory {8:N0} MB",
                    o.Steps, o.Batch, o.Seq, _accumulation, _micro, _plan.Device, _plan.DtypeName, get_num_threads(), residentStart / 1e6));
                using var sinks = _trainer.Console
                    ? new Sinks(new ConsoleSink(o.Steps, _startStep), new JsonLinesSink(run), new TensorBoardSink(run))
                    : new Sinks(new JsonLinesSink(run), new TensorBoardSink(run));

                // The step's loss and gradient norms stay on the device. On the CPU they are read at once, before the
                // optimiser step (a non-finite step is never applied). On CUDA they are read one step later, after the
                // next step has been queued, so the host never waits for the GPU inside a step; evaluations and
                // checkpoints read them first, so a checkpoint is only ever written after its step was seen to be finite.
                bool lagged = _trainer.DeferStatistics ?? _plan.Device.type == DeviceType.CUDA;
                StepStats? pending = null;
                void ReportPending()
                {
                    if (pending is null) return;
                    var s = pending;
                    pending = null;
                    Report(s, sinks);
                }

                _clock.Start();
                int step = _startStep;
                bool interrupted = false;
                try
                {
                    while (step < o.Steps)
                    {
                        if (cancel.IsCancellationRequested) { interrupted = true; break; }
                        step++;
                        var stats = Step(step);
                        if (!lagged) Report(stats, sinks); // throws before the update on a non-finite loss or gradient
                        _optimizer.Step();
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
                        if (evaluate) Evaluate(step, sinks);
                        if (save)
                        {
                            sinks.Flush();
                            SaveCheckpoint(step);
                        }
                        if (stop && !end) { interrupted = true; break; }
                    }
                    ReportPending();
                }
                finally
                {
                    pending?.Dispose();
                }
                sinks.Dispose(); // ends the progress line; an interrupted run saved its checkpoint at the end of its last step, above
                return Finish(step, interrupted, residentStart);
            }

            /// <summary>Forward and backward over the step's micro-batches; the gradients are left for the optimiser.</summary>
            private StepStats Step(int step)
            {
                var o = _o;
                double lr = LearningRate.At(step, o.Steps, o.Warmup, o.Lr, o.MinLrRatio);
                _optimizer.LearningRate = lr;
                _optimizer.ZeroGrad(); // the flat optimisers zero their gradient buffer (Module.zero_grad would drop the views)
                var random = Batches.ForStep(o.Seed, step);
                var loss = zeros(1, dtype: ScalarType.Float32, device: _plan.Device);
                for (int m = 0; m < _accumulation; m++)
                {
                    using var scope = NewDisposeScope();
                    var (x, y) = _data.Sample(_micro, o.Seq, random);
                    var l = Losses.Loss(_model, x.to(_plan.Device), y.to(_plan.Device), _model.Spec.Vocab) / _accumulation;
                    l.backward();
                    loss.add_(l.detach());
                }
                var (gradNorm, blockNorms) = _optimizer is FlatAdam flat
                    ? flat.GradientNorms(o.Clip) // reductions over the flat gradient buffer
                    : GradientNorms.Compute(_parameters, _model.Spec.Layers, o.Clip, _plan.Device);
                return new StepStats(step, lr, loss, gradNorm, blockNorms);
            }

            /// <summary>Reads a step's statistics from the device and records them; stops the run on a non-finite loss.</summary>
            private void Report(StepStats s, IRunSink sinks)
            {
                using (s)
                {
                    double loss = s.Loss.item<float>(), gradNorm = s.GradNorm.item<float>();
                    var blockNorms = s.BlockNorms.to(ScalarType.Float64).cpu().data<double>().Select(v => Math.Round(v, 6)).ToArray();
                    if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
                    {
                        string kept = _plan.Run.Checkpoints is { Count: > 0 } list ? $"the last good checkpoint is {list[^1]}" : "no checkpoint was written yet";
                        throw new SettingError($"the loss became {loss} (gradient norm {gradNorm}) at step {s.Step}; stopping. {kept}. Lower {{Lr}} (now {_o.Lr}), set {{Clip}}, or use a more stable placement.", exitCode: 3);
                    }
                    if (s.Step == _startStep + 1) _first = loss;
                    if (s.Step == _startStep + 10) _residentWarm = Environment.WorkingSet;
                    _last = loss;
                    double elapsed = _clock.Elapsed.TotalSeconds;
                    sinks.Step(new StepRecord
                    {
                        Step = s.Step, Loss = loss, Lr = s.Lr, GradNorm = gradNorm,
                        TokensPerSecond = (s.Step - _startStep) * _tokensPerStep / elapsed, ElapsedSeconds = elapsed,
                        ResidentMb = Environment.WorkingSet / 1e6, BlockGradNorms = blockNorms,
                    });
                    _trainer.OnStep?.Invoke(s.Step, loss);
                }
            }

            private void Evaluate(int step, IRunSink sinks)
            {
                var spec = _model.Spec;
                _validation = _data.Evaluate(_model, _o.EvalBatches, _micro, _o.Seq, _plan.Device);
                sinks.Evaluation(new EvalRecord { Step = step, ValidationLoss = _validation, ValidationPerplexity = Math.Exp(_validation) });
            }

            private void SaveCheckpoint(int step)
                => Checkpoint.Save(_plan.Run.Path, step, _model, _optimizer, _data.Tokenizer,
                    _state with { TorchRngState = Convert.ToBase64String(get_rng_state().data<byte>().ToArray()) }, _o.KeepCheckpoints);

            private TrainResult Finish(int step, bool interrupted, long residentStart)
            {
                var c = CultureInfo.InvariantCulture;
                double seconds = _clock.Elapsed.TotalSeconds;
                long residentEnd = Environment.WorkingSet;
                long residentWarm = _residentWarm == 0 ? residentEnd : _residentWarm;
                var result = new TrainResult(_plan.Run.Path, step, _first, _last, _validation, seconds, (step - _startStep) * _tokensPerStep / Math.Max(seconds, 1e-9),
                    residentStart, residentWarm, residentEnd, interrupted);
                _plan.Run.WriteSummary(result);
                var log = _trainer._log;
                log(string.Format(c, "{0} at step {1}: train loss {2:F4} -> {3:F4}; validation loss {4:F4}, perplexity {5:F2}; {6:F1}s, {7:N0} tokens/s",
                    interrupted ? "stopped" : "done", step, _first, _last, _validation, Math.Exp(_validation), seconds, result.TokensPerSecond));
                log(string.Format(c, "resident memory: {0:N0} MB at start, {1:N0} MB after 10 steps, {2:N0} MB at the end", residentStart / 1e6, residentWarm / 1e6, residentEnd / 1e6));
                log($"run directory: {_plan.Run.Path} (checkpoints, metrics.jsonl, eval.jsonl, tensorboard/)");
                return result;
            }
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
    }
}
