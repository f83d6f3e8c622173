using System.Collections.Generic;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Runs;
using LnsDsl.Training;

namespace LnsDsl.Cli.Verbs
{
    [Verb("finetune", HelpText = "Supervised fine-tuning from a run's checkpoint on instruction examples (JSON lines: prompt/response, chat messages or Alpaca), the loss on responses only; the recipe and run directory of train.")]
    public sealed class FineTuneVerb : TrainVerb
    {
        [Option("checkpoint", HelpText = "The run (its latest checkpoint) or checkpoints/step-* directory to start from: its weights and tokenizer, a fresh optimiser.")]
        public string? Checkpoint { get; set; }

        [Option("hf", HelpText = "A Hugging Face checkpoint directory to start from (not yet supported: fine-tune a run's checkpoint).")]
        public string? Hf { get; set; }

        public override IReadOnlyCollection<string> Inputs => new[] { "Checkpoint", "Hf" };

        protected override TrainOptions Options()
        {
            if (Hf is not null)
                throw new UserError("finetune --hf is not supported yet: fine-tuning starts from a run's checkpoint (--checkpoint RUN)");
            if (Checkpoint is null) throw new UserError("finetune needs the checkpoint to start from: --checkpoint RUN");
            string start = Runs.Checkpoint.Resolve(Checkpoint);
            var recorded = Runs.Checkpoint.ReadState(start);
            return Settings.Apply(this, new TrainOptions()) with { Model = Model ?? recorded.Model, FineTune = true, StartFrom = start };
        }
    }
}
