using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LnsDsl.Runs
{
    /// <summary>
    /// The layout of a run directory, and the only code that reads or writes its files:
    /// <c>config.json</c> (<see cref="RunConfig"/>), <c>metrics.jsonl</c> (<see cref="StepRecord"/> per step),
    /// <c>eval.jsonl</c> (<see cref="EvalRecord"/> per evaluation), <c>summary.json</c> (<see cref="TrainResult"/>),
    /// <c>tokenizer.json</c>, <c>tensorboard/</c> and <c>checkpoints/step-NNNNNNN/</c> (<see cref="Checkpoint"/>).
    /// </summary>
    public sealed class RunDirectory
    {
        public const string ConfigFileName = "config.json";
        public const string MetricsFileName = "metrics.jsonl";
        public const string EvalFileName = "eval.jsonl";
        public const string SummaryFileName = "summary.json";
        public const string TokenizerFileName = "tokenizer.json";
        public const string TensorBoardDirectoryName = "tensorboard";
        public const string AnalysisDirectoryName = "analysis";

        /// <summary>How every run file is serialised: indented, enums as names, NaN and infinities allowed.</summary>
        public static readonly JsonSerializerOptions Json = new()
        {
            WriteIndented = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            Converters = { new JsonStringEnumConverter() },
        };

        private static readonly JsonSerializerOptions Line = new(Json) { WriteIndented = false };

        public RunDirectory(string path) => Path = path;

        public string Path { get; }
        public string ConfigFile => System.IO.Path.Combine(Path, ConfigFileName);
        public string MetricsFile => System.IO.Path.Combine(Path, MetricsFileName);
        public string EvalFile => System.IO.Path.Combine(Path, EvalFileName);
        public string SummaryFile => System.IO.Path.Combine(Path, SummaryFileName);
        public string TokenizerFile => System.IO.Path.Combine(Path, TokenizerFileName);
        public string TensorBoardDirectory => System.IO.Path.Combine(Path, TensorBoardDirectoryName);
        public string AnalysisDirectory => System.IO.Path.Combine(Path, AnalysisDirectoryName);

        /// <summary>The run that holds a checkpoint directory (<c>RUN/checkpoints/step-N</c>).</summary>
        public static RunDirectory OfCheckpoint(string checkpoint)
            => new(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(checkpoint)))!);

        /// <summary>Its complete checkpoints, oldest first.</summary>
        public IReadOnlyList<string> Checkpoints => Checkpoint.List(Path);

        public void WriteConfig(RunConfig config) => AtomicFile.WriteAllText(ConfigFile, JsonSerializer.Serialize(config, Json));

        public RunConfig ReadConfig() => ReadJson<RunConfig>(ConfigFile);

        public void WriteSummary(TrainResult result) => AtomicFile.WriteAllText(SummaryFile, JsonSerializer.Serialize(result, Json));

        /// <summary>The summary of the last finished or stopped session, or null when there is none.</summary>
        public TrainResult? ReadSummary() => File.Exists(SummaryFile) ? ReadJson<TrainResult>(SummaryFile) : null;

        public IReadOnlyList<StepRecord> ReadSteps() => ReadLines<StepRecord>(MetricsFile);

        public IReadOnlyList<EvalRecord> ReadEvaluations() => ReadLines<EvalRecord>(EvalFile);

        /// <summary>Appends records to <c>metrics.jsonl</c> or <c>eval.jsonl</c>, one JSON object a line.</summary>
        public RecordWriter<StepRecord> AppendSteps() => new(MetricsFile);

        /// <inheritdoc cref="AppendSteps"/>
        public RecordWriter<EvalRecord> AppendEvaluations() => new(EvalFile);

        /// <summary>Drops the step and evaluation records after <paramref name="step"/> (a resumed run rewrites them).</summary>
        public void TruncateAfter(int step)
        {
            Truncate<StepRecord>(MetricsFile, r => r.Step <= step);
            Truncate<EvalRecord>(EvalFile, r => r.Step <= step);
        }

        private static void Truncate<T>(string path, Func<T, bool> keep)
        {
            if (!File.Exists(path)) return;
            var kept = File.ReadAllLines(path).Where(line => TryParse<T>(line) is { } r && keep(r)).ToList();
            AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join("\n", kept) + "\n");
        }

        private static IReadOnlyList<T> ReadLines<T>(string path)
            => File.Exists(path) ? File.ReadLines(path).Select(TryParse<T>).Where(r => r is not null).Select(r => r!).ToList() : Array.Empty<T>();

        /// <summary>A record from one line; null for a line that is not one (a torn last line after a crash).</summary>
        private static T? TryParse<T>(string line)
        {
            if (string.IsNullOrWhiteSpace(line)) return default;
            try { return JsonSerializer.Deserialize<T>(line, Line); }
            catch (JsonException) { return default; }
        }

        private static T ReadJson<T>(string path)
        {
            if (!File.Exists(path)) throw new UserError($"'{path}' does not exist; is '{System.IO.Path.GetDirectoryName(path)}' a run directory?");
            try { return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json) ?? throw new UserError($"'{path}' is empty"); }
            catch (JsonException e) { throw new UserError($"'{path}' is not valid ({e.Message})"); }
        }

        /// <summary>An append-only JSON-lines file of one record type.</summary>
        public sealed class RecordWriter<T> : IDisposable
        {
            private readonly StreamWriter _writer;

            internal RecordWriter(string path)
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
                _writer = new StreamWriter(path, append: true);
            }

            public void Write(T record) => _writer.WriteLine(JsonSerializer.Serialize(record, Line));

            public void Flush() => _writer.Flush();

            public void Dispose() => _writer.Dispose();
        }
    }
}
