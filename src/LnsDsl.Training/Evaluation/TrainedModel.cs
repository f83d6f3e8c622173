using System;
using System.IO;
using LnsDsl.Data;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Evaluation
{
    /// <summary>
    /// A model ready to measure: its weights on a device, in evaluation mode, with its tokenizer and the data
    /// settings it is measured with (for a trained run: the run's own data, tokenizer, packing and sequence
    /// length; for an imported checkpoint: the ones given, with its own tokenizer).
    /// </summary>
    public sealed class TrainedModel : IDisposable
    {
        private TrainedModel(TransformerModule model, ITextTokenizer tokenizer, TrainOptions options, string origin, string label, int step, CheckpointState? state, string? checkpoint)
        {
            Model = model;
            Tokenizer = tokenizer;
            Options = options;
            Origin = origin;
            Label = label;
            Step = step;
            State = state;
            Checkpoint = checkpoint;
        }

        public TransformerModule Model { get; }
        public ITextTokenizer Tokenizer { get; }
        /// <summary>The data settings: source, tokenizer, compaction, packing and sequence length.</summary>
        public TrainOptions Options { get; private set; }
        /// <summary>Where the weights came from (a checkpoint or a Hugging Face directory).</summary>
        public string Origin { get; }
        /// <summary>A short name for tables and plots.</summary>
        public string Label { get; }
        /// <summary>The training step of the weights (0 for an imported checkpoint).</summary>
        public int Step { get; }
        /// <summary>A run's checkpoint state, or null for an imported model.</summary>
        public CheckpointState? State { get; }
        /// <summary>The checkpoint directory, or null for an imported model.</summary>
        public string? Checkpoint { get; }
        /// <summary>The run that wrote the checkpoint, or null for an imported model.</summary>
        public RunDirectory? Run => Checkpoint is null ? null : RunDirectory.OfCheckpoint(Checkpoint);

        /// <summary>
        /// The run checkpoint <paramref name="checkpoint"/> (a <c>checkpoints/step-*</c> directory whose <c>state.json</c>
        /// is <paramref name="state"/>, not yet verified) in the class <paramref name="entry"/>: its files checked against
        /// their checksums, its architecture against the class, its weights and tokenizer loaded. Callers get here through
        /// LnsDsl.Loading.ModelSources, which resolves the class (compiling the recorded architecture where needed).
        /// </summary>
        /// <param name="dtype">fp32, or bf16 / bf16-pure: the weights cast to bf16 (<see cref="Devices.ResolveDtype"/>; the Dtype setting); null or empty: fp32 on the CPU, bf16 on CUDA.</param>
        public static TrainedModel Load(string checkpoint, CheckpointState state, ModelEntry entry, Device device, string? dtype = null)
        {
            var (type, _) = Devices.ResolveDtype(dtype ?? "", device);
            Runs.Checkpoint.Verify(checkpoint, state);
            var module = entry.Create(0);
            try
            {
                Runs.Checkpoint.LoadVerified(checkpoint, state, module);
                var tokenizer = Tokenizers.Load(Path.Combine(checkpoint, "tokenizer.json"));
                module.to(device);
                if (type != ScalarType.Float32) module.to(type);
                module.eval();
                string label = $"{module.Spec.Name} ({Path.GetFileName(RunDirectory.OfCheckpoint(checkpoint).Path)}, step {state.Step})";
                return new TrainedModel(module, tokenizer, state.Options, checkpoint, label, state.Step, state, checkpoint);
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }

        /// <summary>A model from elsewhere (e.g. an imported checkpoint), measured with <paramref name="data"/>'s data settings.</summary>
        public static TrainedModel Of(TransformerModule model, ITextTokenizer tokenizer, TrainOptions data, string origin, string label, int step = 0)
        {
            model.eval();
            return new TrainedModel(model, tokenizer, data, origin, label, step, null, null);
        }

        /// <summary>Measures on other data from now on (null settings keep the current ones). Text given here is a corpus,
        /// also for a fine-tuned model (whose own data are instruction examples).</summary>
        public void UseData(string? data, int? seq, Packing? packing)
        {
            Options = Options with { Data = data ?? Options.Data, Seq = seq ?? Options.Seq, Packing = packing ?? Options.Packing };
            _corpusGiven |= data is not null;
        }

        private bool _corpusGiven;

        /// <summary>Whether the data settings name instruction examples (a fine-tuned run measured on its own data).</summary>
        public bool OnInstructions => Options.FineTune && !_corpusGiven;

        /// <summary>The held-out instruction examples of a fine-tuned run (its own data, tokenised with its tokenizer).</summary>
        public InstructionTrainingData OpenInstructions()
        {
            if (!Options.FineTune || Options.Data is null) throw new InvalidOperationException("not a fine-tuned model's data");
            if (!File.Exists(Options.Data))
                throw new UserError($"{Label} was fine-tuned on '{Options.Data}', which is no longer there; give --data (a text corpus) to measure it on other text");
            return new InstructionTrainingData(Options.Data, Tokenizer, Options.Seq);
        }

        /// <summary>
        /// The corpus (the same source, tokenizer and compaction as the settings say). A fine-tuned run's own data are
        /// instruction examples: its corpus is the one the run it started from trained on (that run's settings, when its
        /// checkpoint is still there), else <c>--data</c> must name one.
        /// </summary>
        public DataSet OpenData(Action<string>? log = null)
        {
            var o = CorpusOptions(log);
            // Tokenised with the model's own tokenizer: a compacted vocabulary fitted on the training text keeps its ids
            // on any other text (refitting it there would renumber the tokens).
            var data = DataSet.Prepare(o.Data, Tokenizer, log);
            if (data.Tokenizer.VocabSize > Model.Spec.Vocab)
            {
                data.Dispose();
                throw new UserError($"the tokenizer {data.Tokenizer.Name} has {data.Tokenizer.VocabSize} ids but {Model.Spec.Name} has {Model.Spec.Vocab}");
            }
            return data;
        }

        /// <summary>The corpus settings <see cref="OpenData"/> uses: the data settings, except that a fine-tuned run keeps
        /// the tokenizer settings of the run it started from (and, unless <c>--data</c> names a corpus, its corpus).</summary>
        public TrainOptions CorpusOptions(Action<string>? log = null)
        {
            var o = Options;
            // A fine-tuned run (perhaps of a fine-tuned run) keeps the tokenizer of the pre-training run it descends from:
            // follow the chain back to that run's settings (its config.json where its checkpoint has been pruned).
            var origin = o;
            string? from = null;
            for (int hops = 0; origin.FineTune && origin.StartFrom is { } start && !start.StartsWith(Trainer.ImportedPrefix, StringComparison.Ordinal); hops++)
            {
                if (hops > 32) throw new UserError($"{Label}: the chain of runs it was fine-tuned from does not end (a loop at '{start}')");
                from = start;
                if (File.Exists(Path.Combine(start, "state.json"))) origin = Runs.Checkpoint.PeekState(start).Options;
                else if (File.Exists(RunDirectory.OfCheckpoint(start).ConfigFile)) origin = RunDirectory.OfCheckpoint(start).ReadConfig().Options;
                else throw new UserError($"{Label} is fine-tuned from '{start}', which is no longer there to say which tokenizer settings and corpus it used; give --data (a text corpus), or measure it with eval --tasks or generate");
            }
            if (from is not null && origin.FineTune && !_corpusGiven)
                throw new UserError($"{Label} descends from a model fine-tuned from an imported checkpoint: no pre-training corpus is recorded; give --data (a text corpus)");
            if (from is not null)
            {
                if (!_corpusGiven) log?.Invoke($"{Label} is fine-tuned; measuring on the corpus of the run it descends from ({from}): {origin.Data ?? "builtin"}");
                return o with { Data = _corpusGiven ? o.Data : origin.Data, Tokenizer = origin.Tokenizer, Compact = origin.Compact, FineTune = false };
            }
            if (o.FineTune && !_corpusGiven)
                throw new UserError($"{Label} is fine-tuned: its data are instruction examples ('{o.Data}'), not a corpus; give --data (a text corpus)");
            return o with { FineTune = false };
        }

        public void Dispose() => Model.Dispose();
    }
}
