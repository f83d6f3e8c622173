using LnsDsl.Data;

namespace LnsDsl.Training
{
    /// <summary>A training run's settings: the single owner of their defaults, which follow the paper's recipe (docs/METHOD.md) scaled to a CPU.</summary>
    public sealed record TrainOptions
    {
        public string Model { get; init; } = "";
        public string? Data { get; init; }
        public string Tokenizer { get; init; } = Tokenizers.Default;
        /// <summary>Compact the vocabulary to this many ids; -1: to the model's Vocab when the tokenizer's is larger; 0: never.</summary>
        public int Compact { get; init; } = -1;
        public Packing Packing { get; init; } = Packing.Pack;
        public int Steps { get; init; } = 150;
        /// <summary>Sequences per optimiser step (the total batch).</summary>
        public int Batch { get; init; } = 16;
        /// <summary>Sequences per forward/backward; gradients accumulate over Batch / MicroBatch passes (0: = Batch).</summary>
        public int MicroBatch { get; init; }
        /// <summary>The sequences of one forward/backward: <see cref="MicroBatch"/>, or <see cref="Batch"/> when it is 0 (the one owner of that rule).</summary>
        [System.Text.Json.Serialization.JsonIgnore]
        public int MicroBatchSize => MicroBatch > 0 ? MicroBatch : Batch;
        public int Seq { get; init; } = 256;
        public double Lr { get; init; } = 1e-3;
        public int Warmup { get; init; } = 15;
        /// <summary>The cosine decays to this fraction of the peak (the paper: 0.1).</summary>
        public double MinLrRatio { get; init; } = 0.1;
        /// <summary>adam: L2 decay added to the gradient; adamw: decoupled decay of matrices (not norms, biases, nor the embedding unless <see cref="DecayEmbeddings"/>).</summary>
        public double WeightDecay { get; init; }
        /// <summary>adam (flat buffers, a few kernels per step), adamw (the same with decoupled weight decay), or
        /// torch-adam (TorchSharp's optim.Adam, per parameter; the same numbers as adam).</summary>
        public string Optimizer { get; init; } = "adam";
        /// <summary>adamw: decay the token embedding as well.</summary>
        public bool DecayEmbeddings { get; init; }
        /// <summary>Gradient clipping by global norm (0: off, as in the paper).</summary>
        public double Clip { get; init; }
        public int EvalEvery { get; init; } = 50;
        /// <summary>Validation windows per evaluation.</summary>
        public int EvalBatches { get; init; } = 8;
        public int CheckpointEvery { get; init; } = 50;
        public int KeepCheckpoints { get; init; } = 2;
        public long Seed { get; init; }
        public int Threads { get; init; }
        public string Device { get; init; } = "auto";
        /// <summary>fp32, bf16 (mixed precision: fp32 weights, gradients and Adam state, bf16 forward) or bf16-pure (everything bf16, the paper's code); empty: fp32 on CPU, bf16 on CUDA.</summary>
        public string Dtype { get; init; } = "";
        public string? Out { get; init; }
        public bool Resume { get; init; }
        /// <summary>Fine-tuning: <see cref="Data"/> is a JSON-lines file of instruction examples (<c>InstructionData</c>),
        /// one per sequence, the loss on responses only.</summary>
        public bool FineTune { get; init; }
        /// <summary>A run's checkpoint (or run directory) whose weights and tokenizer the run starts from, with a fresh
        /// optimiser (fine-tuning); null: the model's initialisation.</summary>
        public string? StartFrom { get; init; }
        /// <summary>Stop (with a checkpoint) after this step; the run can be resumed later (0: run to the end).</summary>
        public int StopAt { get; init; }
    }
}
