using System;
using System.Numerics;
using System.Threading.Tasks;

namespace LnsDsl.Training
{
    /// <summary>
    /// Adam's and AdamW's update of fp32 buffers in CPU memory as one pass: each element's parameter, gradient and
    /// two moments are read once and written once (SIMD, the buffer split over the threads), where the tensor
    /// operations stream them through memory once per operation (about ten). The order of operations is LibTorch's
    /// single-tensor Adam as its CPU kernels compute it, fused multiply-adds included:
    /// <code>
    /// g' = fma(p, wd, g)                          Adam's L2 decay (grad.add(p, alpha: wd))
    /// p  = p * (1 - lr wd)                        AdamW's decoupled decay, where the parameter decays
    /// m  = fma(g', 1 - b1, m * b1)                m.mul_(b1).add_(g', alpha: 1 - b1)
    /// v  = fma((1 - b2) g', g', v * b2)           v.mul_(b2).addcmul_(g', g', value: 1 - b2)
    /// p  = p + (-lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
    /// </code>
    /// The square root here is correctly rounded; LibTorch's vectorised one is not always (it differs by one unit in
    /// the last place for a fraction of the elements on AVX-512 machines), so the results agree with
    /// <c>optim.Adam</c> to fp32 rounding, not bit for bit. The numbers do not depend on the thread count.
    /// </summary>
    internal static unsafe class CpuAdamKernel
    {
        /// <summary>The constants of one step (scalars rounded to fp32, as LibTorch rounds them for fp32 tensors).</summary>
        internal readonly struct Step
        {
            public Step(double lr, double weightDecay, bool decoupled, long step, double beta1, double beta2, double eps)
            {
                double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
                Beta1 = (float)beta1; OneMinusBeta1 = (float)(1 - beta1);
                Beta2 = (float)beta2; OneMinusBeta2 = (float)(1 - beta2);
                SqrtBc2 = (float)Math.Sqrt(bc2);
                Eps = (float)eps;
                StepSize = (float)-(lr / bc1);
                L2 = !decoupled && weightDecay != 0 ? (float)weightDecay : 0f;
                Keep = decoupled && weightDecay != 0 ? (float)(1 - lr * weightDecay) : 1f;
            }

            public readonly float Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, SqrtBc2, Eps, StepSize, L2, Keep;
        }

        /// <param name="mask">AdamW only: 1 where the parameter decays, 0 where not; null when all decay.</param>
        public static void Update(float* p, float* g, float* m, float* v, float* mask, long count, in Step s, int threads)
        {
            var step = s;
            // Pieces of whole vectors, at least 64K elements each (below that a thread costs more than it saves).
            long width = Vector<float>.Count;
            int pieces = (int)Math.Max(1, Math.Min(threads, count / (1 << 16)));
            long size = ((count + pieces - 1) / pieces + width - 1) / width * width; // pieces * size >= count
            if (pieces == 1) { Range(p, g, m, v, mask, 0, count, step); return; }
            Parallel.For(0, pieces, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
            {
                long start = i * size, end = Math.Min(count, start + size);
                if (start < end) Range(p, g, m, v, mask, start, end, step);
            });
        }

        private static void Range(float* p, float* g, float* m, float* v, float* mask, long start, long end, in Step s)
        {
            int width = Vector<float>.Count;
            var b1 = new Vector<float>(s.Beta1); var a1 = new Vector<float>(s.OneMinusBeta1);
            var b2 = new Vector<float>(s.Beta2); var a2 = new Vector<float>(s.OneMinusBeta2);
            var sq = new Vector<float>(s.SqrtBc2); var eps = new Vector<float>(s.Eps);
            var stepSize = new Vector<float>(s.StepSize); var l2 = new Vector<float>(s.L2);
            var keep = new Vector<float>(s.Keep); var one = Vector<float>.One;
            bool useL2 = s.L2 != 0, decay = s.Keep != 1f;
            long i = start;
            for (; i + width <= end; i += width)
            {
                var pi = Vector.Load(p + i);
                var gi = Vector.Load(g + i);
                if (useL2) gi = Vector.FusedMultiplyAdd(pi, l2, gi);
                if (decay) pi *= mask == null ? keep : Vector.ConditionalSelect(Vector.Equals(Vector.Load(mask + i), one), keep, one);
                var mi = Vector.FusedMultiplyAdd(gi, a1, Vector.Load(m + i) * b1);
                var vi = Vector.FusedMultiplyAdd(a2 * gi, gi, Vector.Load(v + i) * b2);
                var denom = Vector.SquareRoot(vi) / sq + eps;
                pi += stepSize * mi / denom;
                mi.Store(m + i);
                vi.Store(v + i);
                pi.Store(p + i);
            }
            for (; i < end; i++)
            {
                float pi = p[i], gi = g[i];
                if (useL2) gi = MathF.FusedMultiplyAdd(pi, s.L2, gi);
                if (decay && (mask == null || mask[i] == 1f)) pi *= s.Keep;
                float mi = MathF.FusedMultiplyAdd(gi, s.OneMinusBeta1, m[i] * s.Beta1);
                float vi = MathF.FusedMultiplyAdd(s.OneMinusBeta2 * gi, gi, v[i] * s.Beta2);
                float denom = MathF.Sqrt(vi) / s.SqrtBc2 + s.Eps;
                m[i] = mi;
                v[i] = vi;
                p[i] = pi + s.StepSize * mi / denom;
            }
        }
    }
}
