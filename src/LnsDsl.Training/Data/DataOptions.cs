namespace LnsDsl.Data
{
    /// <summary>A corpus to fetch, tokenise into the cache or count, without a model (<c>lnsrun data</c>).</summary>
    public sealed record DataOptions
    {
        /// <summary>A .txt/.jsonl/.jsonl.gz file or directory, or builtin (null), brown, nlp-corpus.</summary>
        public string? Data { get; init; }
        public string Tokenizer { get; init; } = Tokenizers.Default;
        /// <summary>Compact the vocabulary to this many ids (0: never); the small models' 8,192.</summary>
        public int Compact { get; init; } = 8192;
    }
}
