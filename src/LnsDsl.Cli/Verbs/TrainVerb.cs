using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Data;
using LnsDsl.Loading;
using LnsDsl.Models;
using LnsDsl.Training;

namespace LnsDsl.Cli.Verbs
{
    [Verb("train", HelpText = "Train a model (the paper's recipe: Adam, warmup then cosine decay to 0.1 x lr, no weight decay, no clipping).")]
    public class TrainVerb : RecipeVerb, ISeedOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (train: default " + Zoo.Default + "; finetune: the one the checkpoint records). 'lnsrun list' shows them.")]
        public string? Model { get; set; }

        [Option("lr", HelpText = "Peak learning rate.")]
        public double? Lr { get; set; }

        [Option("out", HelpText = "Run directory (default: runs/MODEL-TIME).")]
        public string? Out { get; set; }

        [Option("resume", HelpText = "Continue the run in --out from its latest checkpoint.")]
        public bool Resume { get; set; }

        [Option("stop-at", HelpText = "Stop with a checkpoint after this step (resume later with --resume; 0: run to the end).")]
        public int? StopAt { get; set; }

        public long? Seed { get; set; }

        public override object[] Records() => new object[] { new TrainOptions() };

        /// <summary>The model class, when it comes from a checkpoint (resolved by <see cref="ModelSources"/>: a class this
        /// process lacks is compiled from the recorded architecture); null: the catalogue's class named by the options.</summary>
        protected ModelEntry? Resolved { get; set; }

        /// <summary>The run's options: the given ones over the library's defaults. Resuming continues the model the run
        /// records (MODEL, when given, must be it).</summary>
        protected virtual TrainOptions Options()
        {
            string? model = Model;
            if (Resume && Out is not null && System.IO.Directory.Exists(Out) && ModelSources.KindOf(Out) is var kind && kind != CheckpointKind.Run)
                throw new UserError($"--resume continues an lnsrun run; '{Out}' is {(kind == CheckpointKind.PyTorch ? "a PyTorch export: continue it with its train.py (python train.py --help)" : "a Hugging Face checkpoint: fine-tune it with lnsrun finetune --hf")}");
            if (Resume && Out is not null && Runs.Checkpoint.List(Out).Count > 0)
            {
                Resolved = ModelSources.Resolve(Out, Model);
                model = Resolved.Name;
            }
            return Settings.Apply(this, new TrainOptions()) with { Model = model ?? Zoo.Default };
        }

        /// <summary>The trainer of the run.</summary>
        protected virtual Trainer CreateTrainer(TrainOptions options) => new(options) { Model = Resolved };

        public override int Run()
        {
            var options = Options();
            return WithCtrlC("finishing this step and writing a checkpoint", cancel =>
            {
                var result = CreateTrainer(options).Run(cancel);
                return result.Interrupted && cancel.IsCancellationRequested ? 130 : 0;
            });
        }
    }
}
