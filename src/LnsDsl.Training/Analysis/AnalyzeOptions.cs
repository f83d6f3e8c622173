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
        /// <summary>fp32, or bf16 / bf16-pure (the same here: the weights cast to bf16) while measuring; empty: fp32 on CPU, bf16 on CUDA.</summary>
        public string Dtype { get; init; } = "";
        /// <summary>Angular distance at each sequence's last token only (the paper's script), instead of over every token.</summary>
        public bool LastToken { get; init; }
        /// <summary>Skip the per-block gradient norms (a backward pass, which holds a gradient for every weight).</summary>
        public bool SkipGradients { get; init; }
        /// <summary>Text to measure on (null: the run's own; for an imported checkpoint: the built-in corpora).</summary>
        public string? Data { get; init; }
        /// <summary>Sequence length (null: the run's own; for an imported checkpoint: 256).</summary>
        public int? Seq { get; init; }
        /// <summary>How sequences are cut (null: the run's own; for an imported checkpoint: pack).</summary>
        public LnsDsl.Data.Packing? Packing { get; init; }
    }
}
