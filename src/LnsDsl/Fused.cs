using System;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl
{
    /// <summary>
    /// The building blocks the generated forward calls. <b>This is where LayerNorm Scaling is applied</b>:
    /// the generated code passes each block's factor (1/sqrt(l), 1/l or 1) as a literal <c>scale</c>, and it is
    /// folded into the norm's weight vector (<c>[Hidden]</c> elements) instead of an extra pass over the
    /// activations (<c>[B, T, Hidden]</c>).
    /// </summary>
    public static class Fused
    {
        /// <summary>
        /// RMSNorm with a folded output scale: <c>x * rsqrt(mean(x^2, -1) + eps) * (weight * scale)</c>.
        /// Statistics are computed in fp32 whatever the input dtype; the result has the input's dtype.
        /// </summary>
        public static Tensor RmsNorm(Tensor x, NormWeight norm, double eps, double scale = 1.0)
        {
            using var scope = NewDisposeScope();
            Tensor y;
            if (x.dtype == ScalarType.Float32 || x.dtype == ScalarType.Float64)
            {
                y = x * x.square().mean(new long[] { -1 }, keepdim: true).add_(eps).rsqrt_();
            }
            else
            {
                var xf = x.to(ScalarType.Float32);
                y = (xf * xf.square().mean(new long[] { -1 }, keepdim: true).add_(eps).rsqrt_()).to(x.dtype);
            }
            // scale == 1 is a literal from the generated code (block 1, or no LNS): skip the [Hidden] product.
            var w = scale == 1.0 ? norm.weight : norm.weight * scale;
            return (y * w).MoveToOuterDisposeScope();
        }

        /// <summary>LayerNorm with a folded output scale: <c>((x - mean) / sqrt(var + eps)) * (weight * scale) + bias * scale</c>.</summary>
        public static Tensor LayerNorm(Tensor x, NormWeight norm, double eps, double scale = 1.0)
        {
            using var scope = NewDisposeScope();
            var w = scale == 1.0 ? norm.weight : norm.weight * scale;
            var b = norm.bias is null ? null : scale == 1.0 ? norm.bias : norm.bias * scale;
            if (x.dtype == ScalarType.Float32 || x.dtype == ScalarType.Float64)
                return nn.functional.layer_norm(x, new long[] { x.shape[^1] }, w, b, eps).MoveToOuterDisposeScope();
            var y = nn.functional.layer_norm(x.to(ScalarType.Float32), new long[] { x.shape[^1] },
                w.to(ScalarType.Float32), b?.to(ScalarType.Float32), eps);
            return y.to(x.dtype).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Rotary embedding, <c>rotate_half</c> (non-interleaved) convention, on <c>[B, T, heads, D]</c> (before the
        /// heads are transposed, so q and k can be rotated in one pass while they still sit side by side in the fused
        /// projection's output): <c>x * cos + rotate_half(x) * sin</c> with <c>rotate_half(x) = cat(-x2, x1)</c>,
        /// computed as <c>x * cos + roll(x, D/2) * signedSin</c> (<see cref="SignedSin"/>): two products, one add
        /// and one roll, whose backward is a roll.
        /// <paramref name="cos"/> and <paramref name="signedSin"/> are <c>[MaxSeq, D]</c> tables.
        /// </summary>
        public static Tensor ApplyRope(Tensor x, Tensor cos, Tensor signedSin)
        {
            using var scope = NewDisposeScope();
            long t = x.shape[1], half = x.shape[3] / 2;
            var c = cos.narrow(0, 0, t).unsqueeze(1);
            var s = signedSin.narrow(0, 0, t).unsqueeze(1);
            return x.mul(c).add_(x.roll(half, -1).mul_(s)).MoveToOuterDisposeScope();
        }

        /// <summary>The sin table with its first half negated, so that <c>rotate_half(x) * sin = roll(x, D/2) * SignedSin(sin)</c>.</summary>
        public static Tensor SignedSin(Tensor sin)
        {
            using var scope = NewDisposeScope();
            long half = sin.shape[^1] / 2;
            var sign = cat(new[] { full(half, -1.0, dtype: sin.dtype), ones(half, dtype: sin.dtype) });
            return (sin * sign).MoveToOuterDisposeScope();
        }

        /// <summary>The <c>[maxSeq, headDim]</c> cos and sin tables for base <paramref name="theta"/>, computed in fp64.</summary>
        public static (Tensor Cos, Tensor Sin) RopeTables(int maxSeq, int headDim, double theta)
        {
            using var scope = NewDisposeScope();
            var inv = pow(theta, arange(0, headDim, 2, dtype: ScalarType.Float64) / headDim).reciprocal();
            var freqs = outer(arange(maxSeq, dtype: ScalarType.Float64), inv);
            var emb = cat(new[] { freqs, freqs }, -1);
            return (emb.cos().to(ScalarType.Float32).MoveToOuterDisposeScope(), emb.sin().to(ScalarType.Float32).MoveToOuterDisposeScope());
        }

        /// <summary>
        /// Fills rows <c>[start, start + count)</c> of a weight with N(0, std) drawn from <paramref name="generator"/>
        /// (used by the generated initialisation; the fused projections are initialised slice by slice).
        /// </summary>
        public static void InitNormal(Tensor weight, long start, long count, double std, Generator generator)
        {
            using var noGrad = no_grad();
            using var rows = weight.narrow(0, start, count);
            rows.normal_(0.0, std, generator);
        }

        /// <summary>Fills a whole weight with N(0, std).</summary>
        public static void InitNormal(Tensor weight, double std, Generator generator)
            => InitNormal(weight, 0, weight.shape[0], std, generator);
    }
}
