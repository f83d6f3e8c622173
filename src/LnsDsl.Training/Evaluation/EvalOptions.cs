namespace LnsDsl.Evaluation
{
    /// <summary>Held-out evaluation of a checkpoint on its run's validation split.</summary>
    public sealed record EvalOptions
    {
        /// <summary>Fixed validation batches (the first ones, the same every time).</summary>
        public int Batches { get; init; } = 32;
        /// <summary>Sequences per batch.</summary>
        public int Batch { get; init; } = 8;
        public string Device { get; init; } = "auto";
        /// <summary>fp32, or bf16 / bf16-pure (the same here: the weights cast to bf16) while measuring; empty: fp32 on CPU, bf16 on CUDA.</summary>
        public string Dtype { get; init; } = "";
        /// <summary>Text to measure on (null: the run's own; for an imported checkpoint: the built-in corpora).</summary>
        public string? Data { get; init; }
        /// <summary>Sequence length (null: the run's own; for an imported checkpoint: 256).</summary>
        public int? Seq { get; init; }
        /// <summary>How sequences are cut (null: the run's own; for an imported checkpoint: pack).</summary>
        public LnsDsl.Data.Packing? Packing { get; init; }
    }
}
