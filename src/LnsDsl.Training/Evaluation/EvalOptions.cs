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
        /// <summary>Multiple-choice task files (JSON lines, <see cref="TaskReader"/>) to score instead of the perplexity (<see cref="TaskScorer"/>); <see cref="Batch"/> is then the rows per forward pass.</summary>
        public System.Collections.Generic.IReadOnlyList<string> Tasks { get; init; } = System.Array.Empty<string>();
        /// <summary>Examples from the same file before each task item (0: zero-shot; the rule: <see cref="TaskScorer"/>).</summary>
        public int Shots { get; init; }
        /// <summary>The task files' layout (<see cref="TaskReader.Formats"/>); empty: recognised from the fields.</summary>
        public string TaskFormat { get; init; } = "";
    }
}
