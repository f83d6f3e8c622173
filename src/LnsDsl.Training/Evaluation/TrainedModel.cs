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
        /// Loads <paramref name="path"/> (a run directory, its latest checkpoint, or a <c>checkpoints/step-*</c>
        /// directory) into <paramref name="model"/>, or into the model the checkpoint records when it is null.
        /// </summary>
        /// <param name="dtype">fp32, or bf16 / bf16-pure: the weights cast to bf16 (<see cref="Devices.ResolveDtype"/>; the Dtype setting); null or empty: fp32 on the CPU, bf16 on CUDA.</param>
        public static TrainedModel Load(string path, string? model, Device device, string? dtype = null)
        {
            var (type, _) = Devices.ResolveDtype(dtype ?? "", device);
            string checkpoint = Runs.Checkpoint.Resolve(path);
            var recorded = Runs.Checkpoint.PeekState(checkpoint); // LoadModel verifies the files below
            var module = ModelCatalog.Get(model ?? recorded.Model).Create(0);
            try
            {
                var state = Runs.Checkpoint.LoadModel(checkpoint, module);
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

        /// <summary>Measures on other data from now on (null settings keep the current ones).</summary>
        public void UseData(string? data, int? seq, Packing? packing)
            => Options = Options with { Data = data ?? Options.Data, Seq = seq ?? Options.Seq, Packing = packing ?? Options.Packing };

        /// <summary>The data (the same source, tokenizer and compaction as the settings say).</summary>
        public DataSet OpenData(Action<string>? log = null)
        {
            var data = DataSet.ForModel(Options.Data, Options.Tokenizer, Options.Compact, Model.Spec, log);
            if (data.Tokenizer.VocabSize > Model.Spec.Vocab)
            {
                data.Dispose();
                throw new UserError($"the tokenizer {data.Tokenizer.Name} has {data.Tokenizer.VocabSize} ids but {Model.Spec.Name} has {Model.Spec.Vocab}");
            }
            return data;
        }

        public void Dispose() => Model.Dispose();
    }
}
