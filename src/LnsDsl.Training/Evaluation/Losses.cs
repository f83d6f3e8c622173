using System;
using LnsDsl.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Evaluation
{
    /// <summary>The next-token loss, as training, evaluation, the layer analysis and the bench compute it.</summary>
    public static class Losses
    {
        /// <summary>Mean next-token cross-entropy of <paramref name="model"/> on <c>[B, T]</c> inputs and targets.</summary>
        public static Tensor Loss(TransformerModule model, Tensor x, Tensor y, int vocab) => CrossEntropy(model.forward(x), y, vocab);

        /// <summary>Next-token cross-entropy in fp32 over <c>[B, T, vocab]</c> logits, padding (<see cref="Batches.Ignore"/>) left out.</summary>
        public static Tensor CrossEntropy(Tensor logits, Tensor targets, int vocab, nn.Reduction reduction = nn.Reduction.Mean)
            => nn.functional.cross_entropy(logits.reshape(-1, vocab).to(ScalarType.Float32), targets.reshape(-1), ignore_index: Batches.Ignore, reduction: reduction);

        /// <summary>Summed next-token cross-entropy in fp32, padding left out.</summary>
        public static double SumLoss(Tensor logits, Tensor targets, int vocab) => CrossEntropy(logits, targets, vocab, nn.Reduction.Sum).item<float>();

        /// <summary>Mean next-token loss over the fixed validation batches (the first <paramref name="batches"/>).</summary>
        public static double Evaluate(TransformerModule model, TokenStream valid, Packing packing, int batches, int batch, int seq, int endOfText, Device device)
        {
            int available = Batches.FixedCount(valid, packing, batch, seq);
            if (available == 0) { batch = 1; available = Batches.FixedCount(valid, packing, 1, seq); }
            int n = Math.Max(1, Math.Min(batches, available));
            return Evaluate(model, n, i => Batches.Fixed(valid, packing, i, batch, seq, endOfText), device);
        }

        /// <summary>Mean next-token loss over batches 0..<paramref name="batches"/>-1 that <paramref name="batch"/> builds
        /// (on the CPU; moved to <paramref name="device"/> here), padding left out.</summary>
        public static double Evaluate(TransformerModule model, int batches, Func<int, (Tensor Input, Tensor Target)> batch, Device device)
        {
            using var noGrad = no_grad();
            double total = 0;
            long count = 0;
            for (int i = 0; i < batches; i++)
            {
                using var scope = NewDisposeScope();
                var (x, y) = batch(i);
                var targets = y.to(device).reshape(-1);
                total += SumLoss(model.forward(x.to(device)), targets, model.Spec.Vocab);
                count += targets.ne(Batches.Ignore).sum().item<long>();
            }
            return total / Math.Max(1, count);
        }
    }
}
