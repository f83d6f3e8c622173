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
        /// <summary>fp32 or bf16 for the weights while measuring; empty: fp32 on CPU, bf16 on CUDA.</summary>
        public string Dtype { get; init; } = "";
    }
}
