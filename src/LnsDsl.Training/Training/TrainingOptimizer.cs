using System;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Training
{
    /// <summary>What the trainer needs of an optimiser: its learning rate, clearing and applying the gradients, and
    /// its state for checkpoints (<c>optimizer.bin</c>).</summary>
    public interface ITrainingOptimizer : IDisposable
    {
        /// <summary>The learning rate of the next <see cref="Step"/> (every parameter group).</summary>
        double LearningRate { set; }

        /// <summary>Clears the gradients before a step's first backward pass.</summary>
        void ZeroGrad();

        /// <summary>Applies the gradients.</summary>
        void Step();

        /// <summary>Writes the optimiser's state (moments and step counts) to <paramref name="path"/>.</summary>
        void Save(string path);

        /// <summary>Restores the state <see cref="Save"/> wrote; throws <see cref="UserError"/> for a file it cannot read.</summary>
        void Load(string path);
    }

    /// <summary>A TorchSharp optimiser (<c>optim.Adam</c>, <c>optim.AdamW</c>, ...) as an <see cref="ITrainingOptimizer"/>.</summary>
    public sealed class TorchOptimizer : ITrainingOptimizer
    {
        public TorchOptimizer(TorchSharp.Modules.OptimizerHelper optimizer) => Inner = optimizer;

        public TorchSharp.Modules.OptimizerHelper Inner { get; }

        public double LearningRate
        {
            set { foreach (var group in Inner.ParamGroups) group.LearningRate = value; }
        }

        public void ZeroGrad() => Inner.zero_grad();

        public void Step() => Inner.step();

        public void Save(string path) => Inner.save_state_dict(path);

        public void Load(string path)
        {
            if (FlatAdam.IsFlatState(path))
                throw new UserError($"'{path}' holds the state of lnsrun's flat optimiser (--optimizer adam or adamw), which TorchSharp's optimiser cannot read; resume with the run's --optimizer");
            try { Inner.load_state_dict(path); }
            catch (Exception e) when (e is not UserError) { throw new UserError($"'{path}' could not be loaded into TorchSharp's optimiser ({e.Message})"); }
        }

        public void Dispose() => Inner.Dispose();
    }
}
