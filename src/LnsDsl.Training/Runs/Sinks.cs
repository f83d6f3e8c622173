using System;
using System.Collections.Generic;
using System.Globalization;
using TorchSharp;

namespace LnsDsl.Runs
{
    /// <summary>Where a training run's records go: the console, the run's JSON-lines files, TensorBoard.</summary>
    public interface IRunSink : IDisposable
    {
        /// <summary>An optimiser step, once its statistics have been read.</summary>
        void Step(StepRecord record);

        /// <summary>An evaluation on the validation split.</summary>
        void Evaluation(EvalRecord record);

        /// <summary>Makes everything so far durable (called before each checkpoint).</summary>
        void Flush();
    }

    /// <summary>The progress line (<see cref="Progress"/>) and a line per evaluation.</summary>
    public sealed class ConsoleSink : IRunSink
    {
        private readonly Progress _progress;
        private readonly int _startStep;

        /// <param name="steps">The run's last step.</param>
        /// <param name="startStep">The step this session started after (0, or the resumed checkpoint's).</param>
        public ConsoleSink(int steps, int startStep)
        {
            _progress = new Progress(steps);
            _startStep = startStep;
        }

        public void Step(StepRecord r)
            => _progress.Update(r.Step, r.Loss, r.Lr, r.TokensPerSecond, r.ElapsedSeconds, (r.Step - _startStep) / Math.Max(r.ElapsedSeconds, 1e-9));

        public void Evaluation(EvalRecord r)
            => _progress.Message(string.Format(CultureInfo.InvariantCulture, "step {0}: validation loss {1:F4}, perplexity {2:F2}", r.Step, r.ValidationLoss, r.ValidationPerplexity));

        public void Flush() { }

        public void Dispose() => _progress.Done();
    }

    /// <summary><c>metrics.jsonl</c> and <c>eval.jsonl</c> of the run directory.</summary>
    public sealed class JsonLinesSink : IRunSink
    {
        private readonly RunDirectory.RecordWriter<StepRecord> _steps;
        private readonly RunDirectory.RecordWriter<EvalRecord> _evaluations;

        public JsonLinesSink(RunDirectory run)
        {
            _steps = run.AppendSteps();
            _evaluations = run.AppendEvaluations();
        }

        public void Step(StepRecord record) => _steps.Write(record);

        public void Evaluation(EvalRecord record)
        {
            _evaluations.Write(record);
            _evaluations.Flush();
        }

        public void Flush()
        {
            _steps.Flush();
            _evaluations.Flush();
        }

        public void Dispose()
        {
            _steps.Dispose();
            _evaluations.Dispose();
        }
    }

    /// <summary>TensorBoard scalars (TorchSharp's SummaryWriter) under the run's <c>tensorboard/</c>.</summary>
    public sealed class TensorBoardSink : IRunSink
    {
        private readonly TorchSharp.Modules.SummaryWriter _board;

        public TensorBoardSink(RunDirectory run) => _board = torch.utils.tensorboard.SummaryWriter(run.TensorBoardDirectory);

        public void Step(StepRecord r)
        {
            _board.add_scalar("train/loss", (float)r.Loss, r.Step);
            _board.add_scalar("train/lr", (float)r.Lr, r.Step);
            _board.add_scalar("train/grad_norm", (float)r.GradNorm, r.Step);
            _board.add_scalar("train/tokens_per_second", (float)r.TokensPerSecond, r.Step);
        }

        public void Evaluation(EvalRecord r) => _board.add_scalar("valid/loss", (float)r.ValidationLoss, r.Step);

        public void Flush() { }

        public void Dispose() { }
    }

    /// <summary>Several sinks as one, in order.</summary>
    public sealed class Sinks : IRunSink
    {
        private readonly IReadOnlyList<IRunSink> _sinks;

        public Sinks(params IRunSink[] sinks) => _sinks = sinks;

        public void Step(StepRecord record) { foreach (var s in _sinks) s.Step(record); }

        public void Evaluation(EvalRecord record) { foreach (var s in _sinks) s.Evaluation(record); }

        public void Flush() { foreach (var s in _sinks) s.Flush(); }

        public void Dispose() { foreach (var s in _sinks) s.Dispose(); }
    }
}
