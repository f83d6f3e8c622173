using System;
using System.IO;
using LnsDsl.Data;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Evaluation
{
    /// <summary>A model with a checkpoint's weights, on a device, in evaluation mode, with its tokenizer and recorded state.</summary>
    public sealed class TrainedModel : IDisposable
    {
        private TrainedModel(TransformerModule model, ITextTokenizer tokenizer, CheckpointState state, string checkpoint)
        {
            Model = model;
            Tokenizer = tokenizer;
            State = state;
            Checkpoint = checkpoint;
        }

        public TransformerModule Model { get; }
        public ITextTokenizer Tokenizer { get; }
        public CheckpointState State { get; }
        /// <summary>The checkpoint directory the weights came from.</summary>
        public string Checkpoint { get; }
        /// <summary>The run that wrote it.</summary>
        public RunDirectory Run => RunDirectory.OfCheckpoint(Checkpoint);
        /// <summary>The options the run trained with (its data, tokenizer, packing and sequence length).</summary>
        public TrainOptions Options => State.Options;

        /// <summary>
        /// Loads <paramref name="path"/> (a run directory, its latest checkpoint, or a <c>checkpoints/step-*</c>
        /// directory) into <paramref name="model"/>, or into the model the checkpoint records when it is null.
        /// </summary>
        /// <param name="dtype">fp32 or bf16 (the Dtype setting); null or empty: fp32 on the CPU, bf16 on CUDA.</param>
        public static TrainedModel Load(string path, string? model, Device device, string? dtype = null)
        {
            var (type, _) = Devices.ResolveDtype(dtype ?? "", device);
            string checkpoint = Runs.Checkpoint.Resolve(path);
            var recorded = Runs.Checkpoint.ReadState(checkpoint);
            var module = ModelCatalog.Get(model ?? recorded.Model).Create(0);
            try
            {
                var state = Runs.Checkpoint.LoadModel(checkpoint, module);
                var tokenizer = Tokenizers.Load(Path.Combine(checkpoint, "tokenizer.json"));
                module.to(device);
                if (type != ScalarType.Float32) module.to(type);
                module.eval();
                return new TrainedModel(module, tokenizer, state, checkpoint);
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }

        /// <summary>The run's data (the same source, tokenizer and compaction as in training).</summary>
        public DataSet OpenData(Action<string>? log = null) => DataSet.ForModel(Options.Data, Options.Tokenizer, Options.Compact, Model.Spec, log);

        public void Dispose() => Model.Dispose();
    }
}
