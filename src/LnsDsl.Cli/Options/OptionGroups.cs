using CommandLine;
using LnsDsl.Data;

namespace LnsDsl.Cli.Options
{
    // The option groups: each option is declared here once, on an interface, and every verb it applies to
    // implements the interface (CommandLineParser reads options from a verb's interfaces). A property is named
    // after the library record property it sets (TrainOptions.Steps, BenchOptions.Seq, ...): Settings.Apply copies
    // it by name, and the defaults are the records' own (shown under each verb's --help, never repeated here).

    /// <summary><c>--assembly</c>: every verb.</summary>
    public interface IAssemblyOption
    {
        [Option("assembly", HelpText = "Also load models from this compiled assembly (a user's [TransformerModel] classes).")]
        string? Assembly { get; set; }
    }

    /// <summary>The weights' dtype.</summary>
    public interface IDtypeOption
    {
        [Option("dtype", HelpText = "fp32, bf16 or bf16-pure (train/bench: bf16 is mixed precision, fp32 weights and optimiser state with a bf16 forward; bf16-pure casts everything; elsewhere both mean bf16 weights. Default: fp32 on CPU, bf16 on CUDA; a Hugging Face checkpoint's stored dtype; export: the model's).")]
        string? Dtype { get; set; }
    }

    /// <summary>Where a model runs: every verb that runs one.</summary>
    public interface IDeviceOptions : IDtypeOption
    {
        [Option("device", HelpText = "auto (CUDA when available), cpu, cuda or cuda:N.")]
        string? Device { get; set; }

        [Option("threads", HelpText = "CPU threads for LibTorch (0: its default, all cores).")]
        int? Threads { get; set; }
    }

    /// <summary>The text.</summary>
    public interface IDataOption
    {
        [Option("data", HelpText = "Text: a .txt/.jsonl/.jsonl.gz file or directory, a .parquet file or a directory of them (a Hugging Face dataset: data/train-*.parquet), nanogpt:DIR (nanoGPT's train.bin/val.bin, with --tokenizer gpt2), or builtin (default), brown, nlp-corpus. eval, analyze: instead of the run's own.")]
        string? Data { get; set; }

        [Option("text-column", HelpText = "Parquet data: the column holding the text (default text); recorded with the data as PATH#COLUMN.")]
        string? TextColumn { get; set; }
    }

    /// <summary>The tokenizer.</summary>
    public interface ITokenizerOption
    {
        [Option("tokenizer", HelpText = "bytes, cl100k, o200k, gpt2, spm:PATH (a SentencePiece model) or hf:DIR (a Hugging Face checkpoint's own; the default with --hf).")]
        string? Tokenizer { get; set; }
    }

    /// <summary>Vocabulary compaction.</summary>
    public interface ICompactOption
    {
        [Option("compact", HelpText = "Compact the vocabulary to the corpus's K most frequent tokens (-1: to the model's Vocab when needed; 0: never).")]
        int? Compact { get; set; }
    }

    /// <summary>The text and its tokenisation, for training and data preparation.</summary>
    public interface IDataOptions : IDataOption, ITokenizerOption, ICompactOption { }

    /// <summary>How training sequences are cut from the text.</summary>
    public interface IPackingOption
    {
        [Option("packing", HelpText = "pack (documents concatenated) or document (one per sequence, padded; the paper's mode).")]
        Packing? Packing { get; set; }
    }

    /// <summary>Sequences per step (training, bench) or per measured batch (eval, analyze).</summary>
    public interface IBatchOption
    {
        [Option("batch", HelpText = "Sequences per optimiser step (train, compare: the total batch; bench) or per measured batch (eval, analyze).")]
        int? Batch { get; set; }
    }

    /// <summary>How many fixed validation batches a measurement uses: eval and analyze.</summary>
    public interface IBatchesOption
    {
        [Option("batches", HelpText = "Fixed validation batches to measure on (the first ones, the same every time).")]
        int? Batches { get; set; }
    }

    /// <summary>The sequence length of training: train, compare, bench.</summary>
    public interface ISeqOption
    {
        [Option("seq", HelpText = "Sequence length (the paper's 256).")]
        int? Seq { get; set; }
    }

    /// <summary>The training recipe: train and compare.</summary>
    public interface IRecipeOptions : IBatchOption, ISeqOption
    {
        [Option("steps", HelpText = "Optimiser steps.")]
        int? Steps { get; set; }

        [Option("micro-batch", HelpText = "Sequences per forward/backward; gradients accumulate (0: = batch).")]
        int? MicroBatch { get; set; }

        [Option("warmup", HelpText = "Linear warmup steps.")]
        int? Warmup { get; set; }

        [Option("min-lr-ratio", HelpText = "The cosine decays to this fraction of the peak.")]
        double? MinLrRatio { get; set; }

        [Option("weight-decay", HelpText = "Adam's L2 weight decay (0 in the paper).")]
        double? WeightDecay { get; set; }

        [Option("optimizer", HelpText = "adam (flat buffers: a few kernels per step), adamw (decoupled weight decay of matrices), or torch-adam (TorchSharp's Adam, per parameter; same numbers as adam).")]
        string? Optimizer { get; set; }

        [Option("decay-embeddings", HelpText = "adamw: decay the token embedding too (norms and biases never are).")]
        bool DecayEmbeddings { get; set; }

        [Option("clip", HelpText = "Clip gradients to this global norm (0: off, as in the paper).")]
        double? Clip { get; set; }

        [Option("eval-every", HelpText = "Evaluate on the validation split every N steps (and at the end).")]
        int? EvalEvery { get; set; }

        [Option("eval-batches", HelpText = "Validation batches per evaluation.")]
        int? EvalBatches { get; set; }

        [Option("checkpoint-every", HelpText = "Write a checkpoint every N steps (and at the end).")]
        int? CheckpointEvery { get; set; }

        [Option("keep", HelpText = "Keep the last N checkpoints.")]
        int? KeepCheckpoints { get; set; }
    }

    /// <summary>A seed: of the initialisation and the data order (train), the weights and batch (bench), sampling (generate).</summary>
    public interface ISeedOption
    {
        [Option("seed", HelpText = "Seed (train: initialisation and data order; bench: weights and batch; generate: sampling).")]
        long? Seed { get; set; }
    }

    /// <summary>The model to load: a run's checkpoint or a Hugging Face checkpoint directory (eval, generate).</summary>
    public interface IModelSourceOptions
    {
        [Option("checkpoint", HelpText = "A run directory (its latest checkpoint) or a checkpoints/step-* directory.")]
        string? Checkpoint { get; set; }

        [Option("hf", HelpText = "A Hugging Face checkpoint directory (config.json + safetensors): Llama, Mistral, Qwen2, Qwen3, Gemma-2, OLMo-2.")]
        string? Hf { get; set; }
    }

    /// <summary>Multiple-choice tasks to score: eval and compare.</summary>
    public interface ITaskOptions
    {
        [Option("tasks", Separator = ',', HelpText = "Multiple-choice task files (JSON lines: ARC, PIQA, HellaSwag, BoolQ, MMLU; docs/TASKS.md), comma-separated: acc, acc_norm and stderr per task (eval: instead of the perplexity; compare: columns of the table).")]
        System.Collections.Generic.IEnumerable<string> Tasks { get; set; }

        [Option("shots", HelpText = "Examples from the same file before each task item (default 0: zero-shot).")]
        int? Shots { get; set; }

        [Option("task-format", HelpText = "The task files' layout: arc, piqa, hellaswag, boolq or mmlu (default: recognised from the fields).")]
        string? TaskFormat { get; set; }
    }
}
