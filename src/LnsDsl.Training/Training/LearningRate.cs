using System;

namespace LnsDsl.Training
{
    /// <summary>The paper's learning-rate schedule: linear warmup, then cosine decay to a fraction of the peak.</summary>
    public static class LearningRate
    {
        /// <summary>
        /// <c>peak * step / warmup</c> for <c>step &lt;= warmup</c>; then
        /// <c>peak * (minRatio + (1 - minRatio) * (1 + cos(pi * p)) / 2)</c> with <c>p = (step - warmup) / (steps - warmup)</c>.
        /// </summary>
        public static double At(int step, int steps, int warmup, double peak, double minRatio = 0.1)
        {
            if (step <= warmup) return peak * step / Math.Max(1, warmup);
            double progress = Math.Min(1, (double)(step - warmup) / Math.Max(1, steps - warmup));
            return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
        }
    }
}
