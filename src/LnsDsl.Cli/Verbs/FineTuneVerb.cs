using System.Collections.Generic;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Loading;
using LnsDsl.Runs;
using LnsDsl.Training;

namespace LnsDsl.Cli.Verbs
{
    [Verb("finetune", HelpText = "Supervised fine-tuning from a run's checkpoint on instruction examples (JSON lines: prompt/response, chat messages or Alpaca), the loss on responses only; the recipe and run directory of train.")]
    public sealed class FineTuneVerb : TrainVerb
    {
        [Option("checkpoint", HelpText = "The run (its latest checkpoint) or checkpoints/step-* directory to start from: its weights and tokenizer, a fresh optimiser.")]
        public string? Checkpoint { get; set; }

        [Option("hf", HelpText = "A Hugging Face checkpoint directory to start from (its weights, and its tokenizer unless --tokenizer names one).")]
        public string? Hf { get; set; }

        public override IReadOnlyCollection<string> Inputs => new[] { "Checkpoint", "Hf" };

        protected override Trainer CreateTrainer(TrainOptions options)
            => Hf is null ? base.CreateTrainer(options) : new Trainer(options) { Model = Resolved, LoadStartingWeights = model => LnsDsl.Interop.HuggingFace.LoadInto(model, Hf) };

        protected override TrainOptions Options()
        {
            if ((Checkpoint is null) == (Hf is null)) throw new UserError("finetune starts from one checkpoint: --checkpoint RUN or --hf DIR");
            if (Hf is not null)
            {
                // The imported model is compiled (and registered) from its config; its weights load into the new model.
                var entry = Resolved = ModelSources.Resolve(Hf);
                string directory = System.IO.Path.GetFullPath(Hf);
                string tokenizerConfig = System.IO.Path.Combine(directory, "tokenizer_config.json");
                if (System.IO.File.Exists(tokenizerConfig) && System.IO.File.ReadAllText(tokenizerConfig).Contains("\"chat_template\"", System.StringComparison.Ordinal))
                    System.Console.Error.WriteLine($"note: {tokenizerConfig} carries a chat template; LnsDsl does not run chat templates (Jinja), so the examples use its plain template (User: ... / Assistant: ...)");
                return Settings.Apply(this, new TrainOptions()) with
                {
                    Model = entry.Name, FineTune = true, StartFrom = Trainer.ImportedPrefix + directory,
                    Tokenizer = Tokenizer ?? "hf:" + directory, Compact = 0,
                };
            }
            if (ModelSources.KindOf(Checkpoint!) != CheckpointKind.Run)
                throw new UserError($"'{Checkpoint}' is {(ModelSources.KindOf(Checkpoint!) == CheckpointKind.HuggingFace ? "a Hugging Face checkpoint: give it as --hf" : "a PyTorch export: fine-tune it in PyTorch, or export an lnsrun run instead")}; --checkpoint takes an lnsrun run");
            string start = System.IO.Path.GetFullPath(Runs.Checkpoint.Resolve(Checkpoint!)); // absolute: read again from other directories (eval, analyze)
            if (Resume && Out is not null && Runs.Checkpoint.List(Out).Count > 0) return base.Options() with { FineTune = true, StartFrom = start }; // the fine-tuned run's own class
            Resolved = ModelSources.Resolve(start, Model); // compiled from the recorded architecture where needed
            return Settings.Apply(this, new TrainOptions()) with { Model = Resolved.Name, FineTune = true, StartFrom = start };
        }
    }
}
