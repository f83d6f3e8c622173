using System;
using LnsDsl.Evaluation;

namespace LnsDsl.Interop
{
    /// <summary>Where a model to measure comes from: a run's checkpoint (lnsrun's own, or one the PyTorch export's train.py
    /// wrote) or a Hugging Face checkpoint directory.</summary>
    public static class ModelSources
    {
        /// <summary>
        /// The model of <paramref name="checkpoint"/> (a run directory or one of its checkpoints; <paramref name="model"/>
        /// overrides the model it records) or of <paramref name="huggingFace"/> (a Hugging Face directory, with its own
        /// tokenizer unless <paramref name="tokenizer"/> names one); exactly one of the two.
        /// </summary>
        public static TrainedModel Open(string? checkpoint, string? huggingFace, string? model, string device, string? dtype, string? tokenizer = null, Action<string>? log = null)
        {
            if ((checkpoint is null) == (huggingFace is null))
                throw new SettingError("give a run's checkpoint ({Checkpoint}) or a Hugging Face directory ({Hf}), one of the two");
            var resolved = Devices.Resolve(device);
            if (checkpoint is not null)
            {
                if (tokenizer is not null) throw new SettingError("{Tokenizer} applies to a Hugging Face checkpoint; a run keeps the tokenizer it trained with");
                // A PyTorch export, or a checkpoint its train.py wrote: safetensors under LnsDsl's names.
                if (PyTorch.PyTorchCheckpoint.Is(checkpoint)) return PyTorch.PyTorchCheckpoint.Open(checkpoint, model, resolved, dtype, log);
                CheckpointModels.Resolve(checkpoint, model); // a class this process lacks is compiled from the recorded architecture
                return TrainedModel.Load(checkpoint, model, resolved, dtype);
            }
            return HuggingFace.Open(huggingFace!, resolved, dtype, tokenizer, log);
        }
    }
}
