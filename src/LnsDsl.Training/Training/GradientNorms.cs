using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Training
{
    /// <summary>The global gradient norm, each block's, and clipping by the global norm.</summary>
    public static class GradientNorms
    {
        /// <summary>The term added to the norm in the clipping coefficient <c>clip / (norm + ClipEpsilon)</c> (clip_grad_norm_'s).</summary>
        public const double ClipEpsilon = 1e-6;

        /// <summary>
        /// The global gradient norm and each block's (after clipping, as the optimiser sees them), computed on the
        /// device with no host synchronisation. With <paramref name="clip"/> &gt; 0 the gradients are scaled by
        /// <c>min(1, clip / (norm + 1e-6))</c>, as <c>clip_grad_norm_</c> does.
        /// </summary>
        /// <param name="parameters">Every parameter with its 0-based block, or -1 outside the blocks.</param>
        public static (Tensor Total, Tensor Blocks) Compute(IReadOnlyList<(int Block, TorchSharp.Modules.Parameter Parameter)> parameters, int layers, double clip, Device device)
        {
            using var scope = NewDisposeScope();
            var all = new List<Tensor>();
            var perBlock = new List<Tensor>[layers];
            for (int i = 0; i < layers; i++) perBlock[i] = new List<Tensor>();
            foreach (var (block, p) in parameters)
            {
                if (p.grad is not { } g) continue;
                var square = g.to(ScalarType.Float32).square().sum(); // once per parameter, for both norms
                all.Add(square);
                if (block >= 0) perBlock[block].Add(square);
            }
            var zero = zeros(1, dtype: ScalarType.Float32, device: device).sum();
            var total = all.Count > 0 ? stack(all).sum().sqrt() : zero;
            var blockNorms = stack(perBlock.Select(list => list.Count > 0 ? stack(list).sum() : zero).ToArray()).sqrt();
            if (clip > 0)
            {
                var coefficient = (clip / (total + ClipEpsilon)).clamp_max(1.0);
                using (no_grad())
                    foreach (var (_, p) in parameters)
                        p.grad?.mul_(coefficient.to(p.grad.dtype));
                blockNorms = blockNorms * coefficient;
            }
            return (total.MoveToOuterDisposeScope(), blockNorms.MoveToOuterDisposeScope());
        }
    }
}
