namespace LnsDsl.Analysis
{
    /// <summary>Layer analysis of checkpoints.</summary>
    public sealed record AnalyzeOptions
    {
        /// <summary>Fixed validation batches to measure on.</summary>
        public int Batches { get; init; } = 8;
        /// <summary>Sequences per batch.</summary>
        public int Batch { get; init; } = 4;
        /// <summary>Directory for the CSV files and plots (null: analysis/ in the first run directory).</summary>
        public string? Out { get; init; }
        public string Device { get; init; } = "auto";
        /// <summary>fp32 or bf16 for the weights while measuring; empty: fp32 on CPU, bf16 on CUDA.</summary>
        public string Dtype { get; init; } = "";
    }
}
