using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using CommandLine;
using LnsDsl.Models;
using LnsDsl.Training;
using TorchSharp;

namespace LnsDsl.Cli
{
    public abstract class ModelVerb
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: " + Zoo.Default + "). 'lnsrun list' shows them.")]
        public string Model { get; set; } = Zoo.Default;

        [Option("assembly", HelpText = "Also load models from this compiled assembly (a user's [TransformerModel] classes).")]
        public string? Assembly { get; set; }
    }

    [Verb("list", HelpText = "List the models in the catalogue.")]
    public sealed class ListVerb
    {
        [Option("assembly", HelpText = "Also load models from this compiled assembly.")]
        public string? Assembly { get; set; }
    }

    [Verb("describe", HelpText = "Print a model's resolved architecture, block by block.")]
    public sealed class DescribeVerb : ModelVerb { }

    [Verb("train", HelpText = "Train a model (the paper's recipe: Adam, warmup then cosine decay to 0.1 x lr, no weight decay, no clipping).")]
    public sealed class TrainVerb : ModelVerb
    {
        [Option("data", HelpText = "Text: a .txt/.jsonl/.jsonl.gz file or directory, or builtin (default), brown, nlp-corpus.")]
        public string? Data { get; set; }
        [Option("tokenizer", Default = "cl100k", HelpText = "bytes, cl100k, o200k, or spm:PATH (a SentencePiece model).")]
        public string Tokenizer { get; set; } = "cl100k";
        [Option("compact", Default = -1, HelpText = "Compact the vocabulary to the corpus's K most frequent tokens (-1: to the model's Vocab when needed; 0: never).")]
        public int Compact { get; set; }
        [Option("packing", Default = Packing.Pack, HelpText = "pack (documents concatenated) or document (one per sequence, padded; the paper's mode).")]
        public Packing Packing { get; set; }
        [Option("steps", Default = 150, HelpText = "Optimiser steps.")]
        public int Steps { get; set; }
        [Option("batch", Default = 16, HelpText = "Sequences per optimiser step (the total batch).")]
        public int Batch { get; set; }
        [Option("micro-batch", Default = 0, HelpText = "Sequences per forward/backward; gradients accumulate (0: = batch).")]
        public int MicroBatch { get; set; }
        [Option("seq", Default = 256, HelpText = "Sequence length (the paper's 256).")]
        public int Seq { get; set; }
        [Option("lr", Default = 1e-3, HelpText = "Peak learning rate.")]
        public double Lr { get; set; }
        [Option("warmup", Default = 15, HelpText = "Linear warmup steps.")]
        public int Warmup { get; set; }
        [Option("min-lr-ratio", Default = 0.1, HelpText = "The cosine decays to this fraction of the peak.")]
        public double MinLrRatio { get; set; }
        [Option("clip", Default = 0.0, HelpText = "Clip gradients to this global norm (0: off, as in the paper).")]
        public double Clip { get; set; }
        [Option("eval-every", Default = 50, HelpText = "Evaluate on the validation split every N steps (and at the end).")]
        public int EvalEvery { get; set; }
        [Option("eval-batches", Default = 8, HelpText = "Validation batches per evaluation.")]
        public int EvalBatches { get; set; }
        [Option("checkpoint-every", Default = 50, HelpText = "Write a checkpoint every N steps (and at the end).")]
        public int CheckpointEvery { get; set; }
        [Option("keep", Default = 2, HelpText = "Keep the last N checkpoints.")]
        public int Keep { get; set; }
        [Option("seed", Default = 0L, HelpText = "Seed of the initialisation and the data order.")]
        public long Seed { get; set; }
        [Option("threads", Default = 0, HelpText = "CPU threads for LibTorch (0: its default, all cores).")]
        public int Threads { get; set; }
        [Option("device", Default = "auto", HelpText = "auto, cpu, cuda or cuda:N.")]
        public string Device { get; set; } = "auto";
        [Option("dtype", Default = "", HelpText = "fp32 or bf16 (default: fp32 on CPU, bf16 on CUDA).")]
        public string Dtype { get; set; } = "";
        [Option("out", HelpText = "Run directory (default: runs/MODEL-TIME).")]
        public string? Out { get; set; }
        [Option("resume", HelpText = "Continue the run in --out from its latest checkpoint.")]
        public bool Resume { get; set; }
        [Option("stop-at", Default = 0, HelpText = "Stop with a checkpoint after this step (resume later with --resume).")]
        public int StopAt { get; set; }
    }

    [Verb("eval", HelpText = "Held-out loss and perplexity of a checkpoint on the fixed validation split.")]
    public sealed class EvalVerb : ModelVerb
    {
        [Option("checkpoint", Required = true, HelpText = "A run directory (its latest checkpoint) or a checkpoints/step-* directory.")]
        public string Checkpoint { get; set; } = "";
        [Option("batches", Default = 32, HelpText = "Validation batches (of --batch sequences).")]
        public int Batches { get; set; }
        [Option("batch", Default = 8, HelpText = "Sequences per batch.")]
        public int Batch { get; set; }
        [Option("device", Default = "auto", HelpText = "auto, cpu, cuda or cuda:N.")]
        public string Device { get; set; } = "auto";
    }

    [Verb("generate", HelpText = "Sample text from a checkpoint.")]
    public sealed class GenerateVerb : ModelVerb
    {
        [Option("checkpoint", Required = true, HelpText = "A run directory (its latest checkpoint) or a checkpoints/step-* directory.")]
        public string Checkpoint { get; set; } = "";
        [Option("prompt", Default = "", HelpText = "The text to continue.")]
        public string Prompt { get; set; } = "";
        [Option("max-tokens", Default = 100, HelpText = "Tokens to generate at most.")]
        public int MaxTokens { get; set; }
        [Option("temperature", Default = 0.8, HelpText = "Sampling temperature (0: greedy).")]
        public double Temperature { get; set; }
        [Option("top-k", Default = 40, HelpText = "Sample among the k most likely tokens (0: off).")]
        public int TopK { get; set; }
        [Option("top-p", Default = 0.95, HelpText = "Nucleus sampling mass (1: off).")]
        public double TopP { get; set; }
        [Option("seed", Default = 0L, HelpText = "Sampling seed.")]
        public long Seed { get; set; }
        [Option("device", Default = "auto", HelpText = "auto, cpu, cuda or cuda:N.")]
        public string Device { get; set; } = "auto";
    }

    [Verb("analyze", HelpText = "Layer analysis of checkpoints: output variance, angular distance (curve and heatmap), layer-removal drop, gradient norms; table, CSV and PNG plots.")]
    public sealed class AnalyzeVerb
    {
        [Option("checkpoint", Required = true, Min = 1, HelpText = "One or more run directories or checkpoints/step-* directories (several: one plot).")]
        public IEnumerable<string> Checkpoints { get; set; } = Array.Empty<string>();
        [Option("model", HelpText = "Model class name (default: the one recorded in each checkpoint).")]
        public string? Model { get; set; }
        [Option("batches", Default = 8, HelpText = "Fixed validation batches to measure on.")]
        public int Batches { get; set; }
        [Option("batch", Default = 4, HelpText = "Sequences per batch.")]
        public int Batch { get; set; }
        [Option("out", HelpText = "Directory for the CSV files and plots (default: analysis/ in the first run directory).")]
        public string? Out { get; set; }
        [Option("device", Default = "auto", HelpText = "auto, cpu, cuda or cuda:N.")]
        public string Device { get; set; } = "auto";
        [Option("assembly", HelpText = "Also load models from this compiled assembly.")]
        public string? Assembly { get; set; }
    }

    [Verb("compare", HelpText = "Train (or reuse) several models on the same data, steps and seeds; table, ranking over the token budget, plots. Resumable.")]
    public sealed class CompareVerb
    {
        [Value(0, MetaName = "MODELS", HelpText = "Model class names (or --preset).")]
        public IEnumerable<string> Models { get; set; } = Array.Empty<string>();
        [Option("preset", HelpText = "The paper's comparison for one size of the CPU family, e.g. 12x128: Pre-LN, LNS, Post-LN, Mix-LN, Peri-LN, DeepNorm, LNS + scaled init.")]
        public string? Preset { get; set; }
        [Option("lr", Separator = ',', HelpText = "Learning rates to sweep, comma-separated (default 1e-3).")]
        public IEnumerable<double> Lr { get; set; } = Array.Empty<double>();
        [Option("seeds", Default = 1, HelpText = "Seeds per model and learning rate.")]
        public int Seeds { get; set; }
        [Option("steps", Default = 300, HelpText = "Optimiser steps of every run.")]
        public int Steps { get; set; }
        [Option("batch", Default = 16, HelpText = "Sequences per step.")]
        public int Batch { get; set; }
        [Option("seq", Default = 256, HelpText = "Sequence length.")]
        public int Seq { get; set; }
        [Option("warmup", Default = 30, HelpText = "Warmup steps.")]
        public int Warmup { get; set; }
        [Option("eval-every", Default = 50, HelpText = "Evaluate every N steps (the ranking over the token budget uses these).")]
        public int EvalEvery { get; set; }
        [Option("data", HelpText = "Text (default: builtin).")]
        public string? Data { get; set; }
        [Option("tokenizer", Default = "cl100k", HelpText = "bytes, cl100k, o200k, or spm:PATH.")]
        public string Tokenizer { get; set; } = "cl100k";
        [Option("out", Default = "runs/compare", HelpText = "Comparison directory.")]
        public string Out { get; set; } = "runs/compare";
        [Option("analysis-batches", Default = 4, HelpText = "Validation batches of each run's layer analysis.")]
        public int AnalysisBatches { get; set; }
        [Option("device", Default = "auto", HelpText = "auto, cpu, cuda or cuda:N (every run).")]
        public string Device { get; set; } = "auto";
        [Option("dtype", Default = "", HelpText = "fp32 or bf16 (default: fp32 on CPU, bf16 on CUDA).")]
        public string Dtype { get; set; } = "";
        [Option("assembly", HelpText = "Also load models from this compiled assembly.")]
        public string? Assembly { get; set; }
    }

    [Verb("bench", HelpText = "Speed of a model's generated code: training and forward tokens/s, PaLM model FLOPs, the matmul ceiling measured in the same run, MFU, the speed ratio to the unfused composition run side by side, a step profile, resident memory.")]
    public sealed class BenchVerb : ModelVerb
    {
        [Option("batch", Default = 8, HelpText = "Sequences per step.")]
        public int Batch { get; set; }
        [Option("seq", Default = 256, HelpText = "Sequence length.")]
        public int Seq { get; set; }
        [Option("warmup", Default = 3, HelpText = "Untimed training steps of each model first.")]
        public int Warmup { get; set; }
        [Option("repetitions", Default = 5, HelpText = "Timed repetitions (generated and unfused alternate within each).")]
        public int Repetitions { get; set; }
        [Option("steps", Default = 2, HelpText = "Training steps (and forward passes) per repetition.")]
        public int Steps { get; set; }
        [Option("no-unfused", HelpText = "Skip the unfused composition.")]
        public bool NoUnfused { get; set; }
        [Option("memory-steps", Default = 0, HelpText = "Then train this many more steps, sampling resident memory (e.g. 500 for the flatness check).")]
        public int MemorySteps { get; set; }
        [Option("device", Default = "auto", HelpText = "auto, cpu, cuda or cuda:N.")]
        public string Device { get; set; } = "auto";
        [Option("dtype", Default = "", HelpText = "fp32 or bf16 (default: fp32 on CPU, bf16 on CUDA).")]
        public string Dtype { get; set; } = "";
        [Option("threads", Default = 0, HelpText = "Intra-op threads (0: LibTorch's default).")]
        public int Threads { get; set; }
        [Option("seed", Default = 0, HelpText = "Seed of the weights and the random batch.")]
        public long Seed { get; set; }
        [Option("json", HelpText = "Also write the figures to this JSON file.")]
        public string? Json { get; set; }
    }

    [Verb("data", HelpText = "fetch | prepare | stats: get the built-in corpora, tokenise a corpus into the cache, report token counts.")]
    public sealed class DataVerb
    {
        [Value(0, MetaName = "ACTION", Required = true, HelpText = "fetch, prepare or stats.")]
        public string Action { get; set; } = "";
        [Option("data", HelpText = "Text: a .txt/.jsonl/.jsonl.gz file or directory, or builtin (default), brown, nlp-corpus.")]
        public string? Data { get; set; }
        [Option("tokenizer", Default = "cl100k", HelpText = "bytes, cl100k, o200k, or spm:PATH.")]
        public string Tokenizer { get; set; } = "cl100k";
        [Option("compact", Default = 8192, HelpText = "Compact the vocabulary to K ids (0: never).")]
        public int Compact { get; set; }
    }

    public static class Program
    {
        public static int Main(string[] args)
        {
            ModelCatalog.Register(Zoo.Assembly);
            var parser = new Parser(s => { s.HelpWriter = Console.Error; s.CaseInsensitiveEnumValues = true; });
            try
            {
                return parser.ParseArguments<ListVerb, DescribeVerb, TrainVerb, EvalVerb, GenerateVerb, AnalyzeVerb, CompareVerb, BenchVerb, DataVerb>(args).MapResult(
                    (ListVerb o) => List(o),
                    (DescribeVerb o) => Describe(o),
                    (TrainVerb o) => Train(o),
                    (EvalVerb o) => Eval(o),
                    (GenerateVerb o) => Generate(o),
                    (AnalyzeVerb o) => Analyze(o),
                    (CompareVerb o) => Compare(o),
                    (BenchVerb o) => RunBench(o),
                    (DataVerb o) => Data(o),
                    _ => 2);
            }
            catch (UserError e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return e.ExitCode;
            }
            catch (UnknownModelException e)
            {
                Console.Error.WriteLine("error: " + e.Message + " Run 'lnsrun list' to see them all.");
                return 2;
            }
        }

        internal static void LoadAssembly(string? path)
        {
            if (path is null) return;
            if (!File.Exists(path)) throw new UserError($"--assembly '{path}' does not exist; give the path of a compiled .dll that declares [TransformerModel] classes");
            if (ModelCatalog.LoadAssembly(path) == 0) throw new UserError($"--assembly '{path}' declares no LnsDsl models (was it built with the LnsDsl generator?)");
        }

        private static int List(ListVerb o)
        {
            LoadAssembly(o.Assembly);
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine($"{"name",-20} {"parameters",14} {"blocks",6} {"width",6} {"heads",5}  {"placement",-20} {"scale",-13} {"init",-13}");
            foreach (var e in ModelCatalog.All)
            {
                var s = e.Spec;
                string placement = s.Norm == Kind.Mix ? $"Mix (k={s.PostLayers})" : s.Norm.ToString();
                if (s.LayerScale) placement += " + LayerScale";
                Console.WriteLine(string.Format(c, "{0,-20} {1,14:N0} {2,6} {3,6} {4,5}  {5,-20} {6,-13} {7,-13}", e.Name, s.ParameterCount, s.Layers, s.Hidden, s.Heads, placement, s.Scale, s.OutputInit));
            }
            return 0;
        }

        private static int Describe(DescribeVerb o)
        {
            LoadAssembly(o.Assembly);
            Console.Write(ModelCatalog.Get(o.Model).Spec.Describe());
            return 0;
        }

        private static int Train(TrainVerb v)
        {
            LoadAssembly(v.Assembly);
            var options = new TrainOptions
            {
                Model = v.Model, Data = v.Data, Tokenizer = v.Tokenizer, Compact = v.Compact, Packing = v.Packing, Steps = v.Steps,
                Batch = v.Batch, MicroBatch = v.MicroBatch, Seq = v.Seq, Lr = v.Lr, Warmup = v.Warmup, MinLrRatio = v.MinLrRatio,
                Clip = v.Clip, EvalEvery = v.EvalEvery, EvalBatches = v.EvalBatches, CheckpointEvery = v.CheckpointEvery,
                KeepCheckpoints = v.Keep, Seed = v.Seed, Threads = v.Threads, Device = v.Device, Dtype = v.Dtype, Out = v.Out,
                Resume = v.Resume, StopAt = v.StopAt,
            };
            return WithCtrlC("finishing this step and writing a checkpoint", cancel =>
            {
                var result = new Trainer(options).Run(cancel);
                return result.Interrupted && cancel.IsCancellationRequested ? 130 : 0;
            });
        }

        /// <summary>Runs <paramref name="work"/> with Ctrl+C turned into a cancellation (a second Ctrl+C ends the process).</summary>
        private static int WithCtrlC(string what, Func<CancellationToken, int> work)
        {
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (cancel.IsCancellationRequested) return;
                e.Cancel = true;
                cancel.Cancel();
                Console.Error.WriteLine($"\ninterrupted: {what} (Ctrl+C again to abort) ...");
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                return work(cancel.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }

        /// <summary>The model with a checkpoint's weights, its tokenizer, and the checkpoint's state.</summary>
        private static (TransformerModule Model, ITextTokenizer Tokenizer, CheckpointState State, string Path) Load(ModelVerb v, string checkpointPath, TorchSharp.torch.Device device)
        {
            LoadAssembly(v.Assembly);
            var entry = ModelCatalog.Get(v.Model);
            string checkpoint = Training.Checkpoint.Resolve(checkpointPath);
            var model = entry.Create(0);
            var state = Training.Checkpoint.LoadModel(checkpoint, model);
            var tokenizer = Tokenizers.Load(Path.Combine(checkpoint, "tokenizer.json"));
            model.to(device);
            model.eval();
            return (model, tokenizer, state, checkpoint);
        }

        private static int Eval(EvalVerb v)
        {
            if (v.Batches < 1 || v.Batch < 1) throw new UserError("--batches and --batch must be at least 1");
            var device = Trainer.ResolveDevice(v.Device);
            var (model, tokenizer, state, checkpoint) = Load(v, v.Checkpoint, device);
            using (model)
            {
                var o = state.Options;
                using var data = DataSet.ForRun(o, model.Spec, Console.Error.WriteLine);
                if (data.Tokenizer.Name != tokenizer.Name)
                    throw new UserError($"the data's tokenizer ({data.Tokenizer.Name}) differs from the checkpoint's ({tokenizer.Name})");
                double loss = Trainer.Evaluate(model, data.Valid, o.Packing, v.Batches, v.Batch, o.Seq, tokenizer.EndOfText, model.Spec.Vocab, device);
                var c = CultureInfo.InvariantCulture;
                Console.WriteLine(string.Format(c, "{0} at step {1} on the validation split of {2} ({3}):", model.Spec.Name, state.Step, data.Description, tokenizer.Name));
                Console.WriteLine(string.Format(c, "validation loss {0:F4}, perplexity {1:F2} (uniform over {2} ids: {2})", loss, Math.Exp(loss), tokenizer.VocabSize));
            }
            return 0;
        }

        private static int Generate(GenerateVerb v)
        {
            if (v.MaxTokens < 1) throw new UserError("--max-tokens must be at least 1");
            var device = Trainer.ResolveDevice(v.Device);
            var (model, tokenizer, _, _) = Load(v, v.Checkpoint, device);
            using (model)
            {
                var prompt = tokenizer.Encode(v.Prompt);
                var ids = Sampler.Generate(model, prompt, tokenizer.EndOfText, new SampleOptions(v.MaxTokens, v.Temperature, v.TopK, v.TopP, v.Seed), device);
                Console.WriteLine(v.Prompt + tokenizer.Decode(ids));
            }
            return 0;
        }

        private static int Analyze(AnalyzeVerb v)
        {
            if (v.Batches < 1 || v.Batch < 1) throw new UserError("--batches and --batch must be at least 1");
            LoadAssembly(v.Assembly);
            var device = Trainer.ResolveDevice(v.Device);
            var reports = new List<LayerReport>();
            var runs = new List<string?>();
            foreach (var path in v.Checkpoints)
            {
                string checkpoint = Training.Checkpoint.Resolve(path);
                var recorded = Training.Checkpoint.ReadState(checkpoint);
                var entry = ModelCatalog.Get(v.Model ?? recorded.Model);
                using var model = entry.Create(0);
                var state = Training.Checkpoint.LoadModel(checkpoint, model);
                model.to(device);
                var o = state.Options;
                using var data = DataSet.ForRun(o, model.Spec, Console.Error.WriteLine);
                string run = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(checkpoint)))!;
                string label = $"{model.Spec.Name} ({Path.GetFileName(run)}, step {state.Step})";
                var report = LayerAnalysis.Run(model, data.Valid, o.Packing, v.Batches, v.Batch, o.Seq, data.Tokenizer.EndOfText, device, label);
                Console.WriteLine(Reports.Table(report));
                reports.Add(report);
                runs.Add(run);
            }
            string output = v.Out ?? Path.Combine(runs[0]!, "analysis");
            foreach (var file in Reports.Write(reports, output, runs))
                Console.WriteLine($"wrote {file}");
            return 0;
        }

        private static int Compare(CompareVerb v)
        {
            LoadAssembly(v.Assembly);
            var models = v.Models.ToList();
            if (v.Preset is not null) models.AddRange(ComparisonOptions.Preset(v.Preset));
            var options = new ComparisonOptions
            {
                Models = models,
                LearningRates = v.Lr.Any() ? v.Lr.ToList() : new List<double> { 1e-3 },
                Seeds = v.Seeds,
                Out = v.Out,
                AnalysisBatches = v.AnalysisBatches,
                Train = new TrainOptions { Data = v.Data, Tokenizer = v.Tokenizer, Steps = v.Steps, Batch = v.Batch, Seq = v.Seq, Warmup = v.Warmup, EvalEvery = v.EvalEvery, CheckpointEvery = v.EvalEvery, KeepCheckpoints = 1, Device = v.Device, Dtype = v.Dtype },
            };
            return WithCtrlC("finishing the current step and checkpointing its run", cancel =>
            {
                try
                {
                    new Comparison(options).Run(cancel);
                    return 0;
                }
                catch (OperationCanceledException)
                {
                    Console.Error.WriteLine("interrupted: run the same command again to continue where it stopped");
                    return 130;
                }
            });
        }

        private static int RunBench(BenchVerb v)
        {
            LoadAssembly(v.Assembly);
            var options = new BenchOptions
            {
                Model = v.Model, Batch = v.Batch, Seq = v.Seq, Warmup = v.Warmup, Repetitions = v.Repetitions, Steps = v.Steps,
                Unfused = !v.NoUnfused, MemorySteps = v.MemorySteps, Device = v.Device, Dtype = v.Dtype, Threads = v.Threads, Seed = v.Seed,
            };
            var result = new Bench(options, Console.Error.WriteLine).Run();
            Console.Write(Bench.Format(result));
            if (v.Json is not null)
            {
                AtomicFile.WriteAllText(v.Json, Bench.ToJson(result));
                Console.WriteLine($"wrote {v.Json}");
            }
            return 0;
        }

        private static int Data(DataVerb v)
        {
            switch (v.Action)
            {
                case "fetch":
                    foreach (var name in v.Data is null or "builtin" ? new[] { "brown", "nlp-corpus" } : new[] { v.Data })
                        Console.WriteLine($"{name}: {Corpus.Fetch(name)}");
                    return 0;
                case "prepare":
                case "stats":
                    using (var data = DataSet.Prepare(v.Data, v.Tokenizer, v.Compact, Console.Error.WriteLine))
                    {
                        var c = CultureInfo.InvariantCulture;
                        Console.WriteLine($"data:      {data.Description}");
                        Console.WriteLine($"tokenizer: {data.Tokenizer.Name} ({data.Tokenizer.VocabSize} ids)");
                        Console.WriteLine($"cache:     {data.Directory}");
                        Console.WriteLine(string.Format(c, "train:     {0,12:N0} tokens in {1,6:N0} documents", data.Train.Count, data.Train.Documents));
                        Console.WriteLine(string.Format(c, "valid:     {0,12:N0} tokens in {1,6:N0} documents", data.Valid.Count, data.Valid.Documents));
                    }
                    return 0;
                default:
                    throw new UserError($"unknown data action '{v.Action}'; use fetch, prepare or stats");
            }
        }
    }
}
