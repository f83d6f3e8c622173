using System.Collections.Generic;
using System.Text.Json.Serialization;
using LnsDsl.Training;

namespace LnsDsl.Runs
{
    /// <summary>One optimiser step, a line of <c>metrics.jsonl</c>.</summary>
    public sealed record StepRecord
    {
        [JsonPropertyName("step")] public int Step { get; init; }
        [JsonPropertyName("loss")] public double Loss { get; init; }
        [JsonPropertyName("lr")] public double Lr { get; init; }
        /// <summary>Global gradient norm (after clipping, as the optimiser sees it).</summary>
        [JsonPropertyName("grad_norm")] public double GradNorm { get; init; }
        /// <summary>Training tokens per second since the start of this session.</summary>
        [JsonPropertyName("tokens_per_second")] public double TokensPerSecond { get; init; }
        [JsonPropertyName("elapsed_s")] public double ElapsedSeconds { get; init; }
        [JsonPropertyName("resident_mb")] public double ResidentMb { get; init; }
        /// <summary>Each block's gradient norm, block 1 first.</summary>
        [JsonPropertyName("block_grad_norms")] public IReadOnlyList<double> BlockGradNorms { get; init; } = System.Array.Empty<double>();
    }

    /// <summary>One evaluation on the validation split, a line of <c>eval.jsonl</c>.</summary>
    public sealed record EvalRecord
    {
        [JsonPropertyName("step")] public int Step { get; init; }
        [JsonPropertyName("validation_loss")] public double ValidationLoss { get; init; }
        [JsonPropertyName("validation_perplexity")] public double ValidationPerplexity { get; init; }
    }

    /// <summary>What a run's data is: compared field by field when a run is resumed.</summary>
    /// <param name="Description">The source, for people (a path or a built-in corpus's name).</param>
    /// <param name="CorpusFingerprint">A hash of the documents.</param>
    /// <param name="Tokenizer">The tokenizer's name (with its compaction).</param>
    /// <param name="VocabSize">The tokenizer's ids.</param>
    /// <param name="CacheKey">The token cache's key (format, corpus, tokenizer, compaction).</param>
    public sealed record DataIdentity(string Description, string CorpusFingerprint, string Tokenizer, int VocabSize, string CacheKey)
    {
        /// <summary>One line per differing field, as <c>Tokenizer: a (saved) vs b (now)</c>.</summary>
        public IReadOnlyList<string> Differences(DataIdentity now)
        {
            var list = new List<string>();
            void Check<T>(string name, T a, T b) { if (!Equals(a, b)) list.Add($"{name}: {a} (saved) vs {b} (now)"); }
            Check(nameof(Description), Description, now.Description);
            Check(nameof(CorpusFingerprint), CorpusFingerprint, now.CorpusFingerprint);
            Check(nameof(Tokenizer), Tokenizer, now.Tokenizer);
            Check(nameof(VocabSize), VocabSize, now.VocabSize);
            if (list.Count == 0) Check(nameof(CacheKey), CacheKey, now.CacheKey); // the key differs whenever another field does
            return list;
        }
    }

    /// <summary>A run's <c>config.json</c>: the resolved options and what they resolved to.</summary>
    public sealed record RunConfig
    {
        [JsonPropertyName("options")] public TrainOptions Options { get; init; } = new();
        [JsonPropertyName("model")] public string Model { get; init; } = "";
        /// <summary>The architecture's one-line description, for people.</summary>
        [JsonPropertyName("architecture")] public string Architecture { get; init; } = "";
        /// <summary>The resolved architecture, every field.</summary>
        [JsonPropertyName("spec")] public ModelSpec? Spec { get; init; }
        [JsonPropertyName("parameters")] public long Parameters { get; init; }
        [JsonPropertyName("tokenizer")] public string Tokenizer { get; init; } = "";
        [JsonPropertyName("vocab")] public int Vocab { get; init; }
        [JsonPropertyName("data")] public string Data { get; init; } = "";
        [JsonPropertyName("cache")] public string Cache { get; init; } = "";
        [JsonPropertyName("device")] public string Device { get; init; } = "";
        [JsonPropertyName("dtype")] public string Dtype { get; init; } = "";
        [JsonPropertyName("threads")] public int Threads { get; init; }
    }

    /// <summary>The outcome of a training session, as measured (<c>summary.json</c>).</summary>
    /// <param name="ResidentWarmBytes">Resident memory after the first 10 steps of this session (allocator warmed up).</param>
    public sealed record TrainResult(string RunDirectory, int Step, double FirstLoss, double LastLoss, double ValidationLoss,
        double Seconds, double TokensPerSecond, long ResidentStartBytes, long ResidentWarmBytes, long ResidentEndBytes, bool Interrupted);
}
