using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using static TorchSharp.torch;
using LnsDsl.Analysis;
using LnsDsl.Evaluation;
using LnsDsl.Loading;
using LnsDsl.Runs;
using LnsDsl.Training;

namespace LnsDsl.Experiments
{
    /// <summary>What to compare: models x learning rates x seeds, all on the same data, steps and batches.</summary>
    public sealed record ComparisonOptions
    {
        public IReadOnlyList<string> Models { get; init; } = Array.Empty<string>();
        public IReadOnlyList<double> LearningRates { get; init; } = new[] { 1e-3 };
        public int Seeds { get; init; } = 1;
        /// <summary>The recipe of every run (Model, Lr, Seed and Out are set per run). A comparison's defaults: 300
        /// steps with 30 of warmup, a checkpoint at each evaluation (the run can be continued), the last one kept.</summary>
        public TrainOptions Train { get; init; } = new() { Steps = 300, Warmup = 30, CheckpointEvery = 50, KeepCheckpoints = 1 };
        public string Out { get; init; } = "runs/compare";
        /// <summary>Multiple-choice task files every run is scored on (columns of the table: acc and acc_norm per task).</summary>
        public IReadOnlyList<string> Tasks { get; init; } = Array.Empty<string>();
        /// <summary>Few-shot examples per task item.</summary>
        public int Shots { get; init; }
        /// <summary>The task files' layout (empty: recognised from the fields).</summary>
        public string TaskFormat { get; init; } = "";
        /// <summary>Hugging Face checkpoint directories measured beside the runs (same text, their own tokenizers).</summary>
        public IReadOnlyList<string> Imported { get; init; } = Array.Empty<string>();
        /// <summary>Checkpoints of any kind (lnsrun runs, fine-tuned or converted ones, PyTorch exports and train.py
        /// checkpoints) measured beside the runs on the same text, each with its own tokenizer; not trained.</summary>
        public IReadOnlyList<string> Checkpoints { get; init; } = Array.Empty<string>();
        /// <summary>Validation batches of the layer analysis of each run.</summary>
        public int AnalysisBatches { get; init; } = 4;

        /// <summary>The paper's comparison at CPU scale, for one size of the small family (e.g. "12x128"); "rivals-SIZE":
        /// Pre-LN and LNS against the 2025-26 rivals the zoo has at that size (ReZero, DyT, BHyT, Depth-muP, CompleteP, HybridNorm, mHC).</summary>
        public static IReadOnlyList<string> Preset(string size)
            => size.StartsWith(RivalsPrefix, StringComparison.Ordinal)
                ? new[] { "PreLn", "Lns", "ReZero", "DyT", "BHyT", "DepthMuP", "CompleteP", "HybridNorm", "Mhc" }.Select(v => v + size[RivalsPrefix.Length..]).ToList()
                : new[] { "PreLn", "Lns", "PostLn", "MixLn", "PeriLn", "DeepNorm", "LnsScaledInit" }.Select(v => v + size).ToList();

        private const string RivalsPrefix = "rivals-";
    }

    /// <summary>One finished (or diverged) run of a comparison.</summary>
    public sealed record CompareRun(string Model, double Lr, long Seed, string Directory, bool Diverged, string? Failure,
        double ValidationLoss, IReadOnlyList<(int Step, double Loss)> Evaluations, LayerReport? Layers)
    {
        /// <summary>Its scores on the comparison's multiple-choice tasks (empty without tasks).</summary>
        public IReadOnlyList<TaskResult> Tasks { get; init; } = Array.Empty<TaskResult>();
    }

    /// <summary>A model at one learning rate, over its seeds.</summary>
    public sealed record CompareRow(string Model, double Lr, int Seeds, int Diverged, double MeanPerplexity, double StdPerplexity,
        double DeepestVariance, double RemovalUniformity)
    {
        /// <summary>Per task (in the comparison's order): acc and acc_norm, means over the seeds that did not diverge.</summary>
        public IReadOnlyList<(string Task, double Acc, double AccNorm)> Tasks { get; init; } = Array.Empty<(string, double, double)>();
    }

    /// <summary>
    /// Trains (or reuses finished runs of) several models on the same data, steps and seeds, then tabulates and
    /// plots them. Resumable: finished runs are reused, interrupted ones resumed from their checkpoint, diverged
    /// ones remembered.
    /// </summary>
    public sealed class Comparison
    {
        private readonly ComparisonOptions _o;
        private readonly Action<string> _log;

        public Comparison(ComparisonOptions options, Action<string>? log = null)
        {
            _o = options;
            _log = log ?? Console.WriteLine;
        }

        public static string RunDirectory(string root, string model, double lr, long seed)
            => Path.Combine(root, model, "lr" + lr.ToString("0.#####e+0", CultureInfo.InvariantCulture), "seed" + seed);

        public (IReadOnlyList<CompareRun> Runs, IReadOnlyList<CompareRow> Rows) Run(System.Threading.CancellationToken cancel = default)
        {
            if (_o.Models.Count == 0 && _o.Imported.Count == 0 && _o.Checkpoints.Count == 0)
                throw new SettingError("compare needs at least one model in {Models} (or a preset, {Imported} or {Checkpoints})");
            foreach (var path in _o.Checkpoints) ModelSources.KindOf(path); // fail early: each must be a checkpoint
            if (_o.Seeds < 1) throw new SettingError("{Seeds} must be at least 1");
            if (_o.LearningRates.Count == 0) throw new SettingError("{LearningRates} needs at least one learning rate");
            Trainer.Validate(_o.Train with { Lr = _o.LearningRates[0] }); // the shared recipe, before any run starts
            foreach (var m in _o.Models) ModelCatalog.Get(m); // fail early, with suggestions
            var runs = new List<CompareRun>();
            int total = _o.Models.Count * _o.LearningRates.Count * _o.Seeds, index = 0;
            foreach (var model in _o.Models)
                foreach (var lr in _o.LearningRates)
                    for (long seed = 0; seed < _o.Seeds; seed++)
                    {
                        cancel.ThrowIfCancellationRequested();
                        index++;
                        string dir = RunDirectory(_o.Out, model, lr, seed);
                        _log($"[{index}/{total}] {model}, lr {lr.ToString("G4", CultureInfo.InvariantCulture)}, seed {seed}: {dir}");
                        runs.Add(RunOne(model, lr, seed, dir, cancel));
                    }
            foreach (var directory in _o.Imported.Concat(_o.Checkpoints))
            {
                cancel.ThrowIfCancellationRequested();
                _log($"imported {directory}: measured on the same text with its own tokenizer");
                runs.Add(Imported(directory));
            }
            var rows = Summarise(runs);
            Write(runs, rows);
            return (runs, rows);
        }

        private CompareRun RunOne(string model, double lr, long seed, string dir, System.Threading.CancellationToken cancel)
        {
            var run = new RunDirectory(dir);
            string divergedFile = Path.Combine(dir, "diverged.txt");
            string? failure = File.Exists(divergedFile) ? File.ReadAllText(divergedFile) : null;
            bool finished = run.ReadSummary() is not null && run.Checkpoints is { Count: > 0 } list
                            && Checkpoint.PeekState(list[^1]).Step == _o.Train.Steps; // verified when it is opened
            if (failure is null && !finished)
            {
                var options = _o.Train with { Model = model, Lr = lr, Seed = seed, Out = dir, Resume = run.Checkpoints.Count > 0 };
                try
                {
                    var result = new Trainer(options, _ => { }) { Console = false }.Run(cancel);
                    if (result.Interrupted) throw new OperationCanceledException();
                }
                catch (UserError e) when (e.ExitCode == 3)
                {
                    failure = e.Message;
                    AtomicFile.WriteAllText(divergedFile, failure);
                    _log("  diverged: " + e.Message.Split('\n')[0]);
                }
            }
            else
            {
                _log(failure is null ? "  reusing the finished run" : "  diverged earlier (remembered)");
            }

            var evaluations = run.ReadEvaluations().Select(e => (e.Step, e.ValidationLoss)).ToList();
            if (failure is not null) return new CompareRun(model, lr, seed, dir, true, failure, double.NaN, evaluations, null);

            using var trained = ModelSources.Open(dir, model, CPU);
            var report = LayerAnalysis.Analyze(trained, new AnalyzeOptions { Batches = _o.AnalysisBatches, Batch = Math.Min(_o.Train.MicroBatchSize, 4) }) with { Label = $"{model} lr {lr:G3} seed {seed}" };
            double validation = evaluations.Count > 0 ? evaluations[^1].ValidationLoss : report.Loss;
            bool diverged = !double.IsFinite(validation);
            var tasks = _o.Tasks.Count > 0 && !diverged ? Score(trained) : Array.Empty<TaskResult>();
            return new CompareRun(model, lr, seed, dir, diverged, diverged ? "non-finite validation loss" : null, validation, evaluations, report) { Tasks = tasks };
        }

        /// <summary>A checkpoint of any kind (a Hugging Face directory, a run, a PyTorch export) measured beside the runs: the
        /// same text, sequence length and packing, its own tokenizer (so its perplexity is per token of its vocabulary),
        /// its layer analysis.</summary>
        private CompareRun Imported(string directory)
        {
            var o = _o.Train;
            using var trained = ModelSources.Open(directory, null, Devices.Resolve(o.Device), o.Dtype, null, _log);
            trained.UseData(o.Data ?? LnsDsl.Data.Corpus.Default, o.Seq, o.Packing); // the runs' text, also for a checkpoint with a corpus of its own
            int micro = o.MicroBatchSize;
            var evaluation = Evaluator.Evaluate(trained, new EvalOptions { Batches = o.EvalBatches, Batch = micro }, _log);
            var report = LayerAnalysis.Analyze(trained, new AnalyzeOptions { Batches = _o.AnalysisBatches, Batch = Math.Min(micro, 4), SkipGradients = true }, _log);
            return new CompareRun(trained.Label, 0, 0, directory, false, null, evaluation.Loss, Array.Empty<(int, double)>(), report) { Tasks = Score(trained) };
        }

        private IReadOnlyList<TaskResult> Score(TrainedModel trained)
            => _o.Tasks.Count == 0 ? Array.Empty<TaskResult>()
                : TaskScorer.Evaluate(trained, new EvalOptions { Tasks = _o.Tasks, Shots = _o.Shots, TaskFormat = _o.TaskFormat }, _log);

        private static IReadOnlyList<CompareRow> Summarise(IReadOnlyList<CompareRun> runs)
            => runs.GroupBy(r => (r.Model, r.Lr)).Select(g =>
            {
                var ok = g.Where(r => !r.Diverged).ToList();
                var ppl = ok.Select(r => Math.Exp(r.ValidationLoss)).ToList();
                double mean = ppl.Count > 0 ? ppl.Average() : double.NaN;
                double std = ppl.Count > 1 ? Math.Sqrt(ppl.Sum(p => (p - mean) * (p - mean)) / (ppl.Count - 1)) : 0;
                var scored = ok.Where(r => r.Tasks.Count > 0).ToList();
                var tasks = scored.Count == 0 ? Array.Empty<(string, double, double)>()
                    : scored[0].Tasks.Select((t, i) => (t.Task, scored.Average(r => r.Tasks[i].Acc), scored.Average(r => r.Tasks[i].AccNorm))).ToArray();
                return new CompareRow(g.Key.Model, g.Key.Lr, g.Count(), g.Count() - ok.Count, mean, std,
                    ok.Count > 0 ? ok.Average(r => r.Layers!.Variance[^1]) : double.NaN,
                    ok.Count > 0 ? ok.Average(r => r.Layers!.RemovalUniformity) : double.NaN) { Tasks = tasks };
            }).ToList();

        /// <summary>Ranks (1 = best mean validation loss) of every model/lr at each evaluation step they all reached.</summary>
        public static IReadOnlyList<(int Step, IReadOnlyList<string> Order)> RankingOverTime(IReadOnlyList<CompareRun> runs)
        {
            var groups = runs.GroupBy(r => $"{r.Model} lr {r.Lr.ToString("G3", CultureInfo.InvariantCulture)}").ToList();
            var steps = runs.SelectMany(r => r.Evaluations.Select(e => e.Step)).Distinct().OrderBy(s => s).ToList();
            var result = new List<(int, IReadOnlyList<string>)>();
            foreach (int step in steps)
            {
                var scored = groups.Select(g => (g.Key, Loss: g.Select(r => r.Evaluations.Where(e => e.Step == step).Select(e => e.Loss).DefaultIfEmpty(double.NaN).First()).ToList()))
                    .Select(p => (p.Key, Mean: p.Loss.Any(double.IsNaN) || p.Loss.Any(l => !double.IsFinite(l)) ? double.PositiveInfinity : p.Loss.Average()))
                    .OrderBy(p => p.Mean).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key).ToList();
                result.Add((step, scored));
            }
            return result;
        }

        public static string Table(IReadOnlyList<CompareRow> rows)
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            var taskNames = rows.SelectMany(r => r.Tasks.Select(t => t.Task)).Distinct().ToList();
            sb.AppendLine("| model | lr | seeds | diverged | validation perplexity (mean ± std) | variance at the deepest block | removal-drop uniformity (min/mean) |"
                + string.Concat(taskNames.Select(t => $" {t} acc / acc_norm |")));
            sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- |" + string.Concat(taskNames.Select(_ => " --- |")));
            foreach (var r in rows.OrderBy(r => double.IsNaN(r.MeanPerplexity) ? double.PositiveInfinity : r.MeanPerplexity))
                sb.AppendLine(string.Format(c, "| {0} | {1} | {2} | {3} | {4:F2} ± {5:F2} | {6:G4} | {7:F3} |", r.Model, r.Lr == 0 ? "imported" : r.Lr.ToString("G3", c),
                    r.Seeds, r.Diverged, r.MeanPerplexity, r.StdPerplexity, r.DeepestVariance, r.RemovalUniformity)
                    + string.Concat(taskNames.Select(t => r.Tasks.FirstOrDefault(x => x.Task == t) is { Task: not null } x
                        ? string.Format(c, " {0:F3} / {1:F3} |", x.Acc, x.AccNorm) : " - |")));
            if (rows.Any(r => r.Lr == 0))
                sb.AppendLine().AppendLine("Imported checkpoints are measured on the same text with their own tokenizers: their perplexity is per token of another vocabulary.");
            return sb.ToString();
        }

        private void Write(IReadOnlyList<CompareRun> runs, IReadOnlyList<CompareRow> rows)
        {
            var c = CultureInfo.InvariantCulture;
            string table = Table(rows);
            var ranking = RankingOverTime(runs);
            var md = new StringBuilder(table).AppendLine().AppendLine("Ranking by mean validation loss at each evaluation (best first):").AppendLine();
            foreach (var (step, order) in ranking) md.AppendLine($"- step {step}: {string.Join(" < ", order)}");
            AtomicFile.WriteAllText(Path.Combine(_o.Out, "compare.md"), md.ToString());
            var taskNames = rows.SelectMany(r => r.Tasks.Select(t => t.Task)).Distinct().ToList();
            var csv = new StringBuilder("model,lr,seeds,diverged,mean_perplexity,std_perplexity,deepest_variance,removal_uniformity"
                + string.Concat(taskNames.Select(t => $",{t}_acc,{t}_acc_norm")) + "\n");
            foreach (var r in rows)
                csv.AppendLine(string.Format(c, "{0},{1:R},{2},{3},{4:R},{5:R},{6:R},{7:R}", r.Model, r.Lr, r.Seeds, r.Diverged, r.MeanPerplexity, r.StdPerplexity, r.DeepestVariance, r.RemovalUniformity)
                    + string.Concat(taskNames.Select(t => r.Tasks.FirstOrDefault(x => x.Task == t) is { Task: not null } x ? string.Format(c, ",{0:R},{1:R}", x.Acc, x.AccNorm) : ",,")));
            AtomicFile.WriteAllText(Path.Combine(_o.Out, "compare.csv"), csv.ToString());
            var seed0 = runs.Where(r => r.Seed == 0 && r.Layers is not null).ToList();
            if (seed0.Count > 0)
                Plots.Write(seed0.Select(r => r.Layers!).ToList(), Path.Combine(_o.Out, "plots"), seed0.Select(r => (string?)r.Directory).ToList());
            _log(table);
            foreach (var (step, order) in ranking) _log($"step {step}: {string.Join(" < ", order)}");
            _log($"wrote {Path.Combine(_o.Out, "compare.md")}, compare.csv and plots/");
        }
    }
}
