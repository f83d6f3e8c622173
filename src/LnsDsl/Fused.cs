using System;
using System.Linq;
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
        /// A parameter at its use, in the compute dtype: <paramref name="w"/> itself when <paramref name="dtype"/> is null
        /// or already its dtype (fp32 training and pure bf16 do no extra op), else <c>w.to(dtype)</c>. This is how
        /// <c>--dtype bf16</c> runs mixed precision: the parameters (and so the optimiser state and the gradients the
        /// optimiser sees) stay fp32 masters, the generated forward casts each weight where it is used, so matmuls and
        /// attention run in bf16, and autograd carries the bf16 gradient back through the cast into the fp32 master's
        /// <c>.grad</c> (the cast's backward is a cast to fp32). Chosen over LibTorch's autocast (reachable only through
        /// its mangled C++ entry points, not exported by TorchSharp): portable, and visible in the generated code.
        /// </summary>
        public static Tensor Weight(Tensor w, ScalarType? dtype)
        {
            if (dtype is not { } d || w.dtype == d) return w;
            _weightCasts++;
            return w.to(d);
        }

        [ThreadStatic] private static long _weightCasts;

        /// <summary>How many casts <see cref="Weight"/> has made on this thread (a diagnostic: fp32 makes none).</summary>
        public static long WeightCasts => _weightCasts;

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
            // Mixed precision: an fp32 master weight meets bf16 activations; the product stays in the activations'
            // dtype (type promotion would otherwise make the rest of the block fp32). Never taken in fp32 or pure bf16.
            if (w.dtype != y.dtype) w = w.to(y.dtype);
            return (y * w).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Dynamic Tanh with a folded output scale: <c>tanh(alpha * x) * (weight * scale) + bias * scale</c>, alpha the norm's
        /// learned scalar; no statistics (<paramref name="eps"/> is unused, kept for the generated code's uniform call).
        /// Computed in fp32 for narrower inputs; the result has the input's dtype.
        /// </summary>
        public static Tensor DyT(Tensor x, NormWeight norm, double eps, double scale = 1.0)
        {
            using var scope = NewDisposeScope();
            var alpha = norm.alpha ?? throw new InvalidOperationException("a DyT norm without its alpha parameter");
            bool narrow = x.dtype != ScalarType.Float32 && x.dtype != ScalarType.Float64;
            var xf = narrow ? x.to(ScalarType.Float32) : x;
            var w = scale == 1.0 ? norm.weight : norm.weight * scale;
            var b = scale == 1.0 ? norm.bias! : norm.bias! * scale;
            var y = (xf * alpha.to(xf.dtype)).tanh().mul(w.to(xf.dtype)).add_(b.to(xf.dtype)); // tanh out of place: its backward reads its output
            return (narrow ? y.to(x.dtype) : y).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Bounded hyperbolic tanh (BHyT) with a folded output scale: <c>tanh(lambda * x / (kappa * sqrt(mean(x^2, -1) + eps))) * (weight * scale)</c>,
        /// lambda the norm's learned scalar (stored as <c>alpha</c>), the statistic exact for every norm and in fp32
        /// whatever the input dtype (gradients flow through it, as through RMSNorm's); the result has the input's dtype.
        /// </summary>
        public static Tensor BHyT(Tensor x, NormWeight norm, double eps, double scale, double kappa)
        {
            using var scope = NewDisposeScope();
            var lambda = norm.alpha ?? throw new InvalidOperationException("a BHyT norm without its lambda parameter");
            var xf = x.dtype == ScalarType.Float32 || x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float32);
            var r = xf.square().mean(new long[] { -1 }, keepdim: true).add(eps).rsqrt().mul(1.0 / kappa);
            var w = scale == 1.0 ? norm.weight : norm.weight * scale;
            var y = (xf * r * lambda.to(xf.dtype)).tanh().mul(w.to(xf.dtype)); // tanh out of place: its backward reads its output
            return (ReferenceEquals(xf, x) ? y : y.to(x.dtype)).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// RMSNorm with a bias and a folded output scale: <c>x * rsqrt(mean(x^2, -1) + eps) * (weight * scale) + bias * scale</c>.
        /// On a zero-mean stream it is exactly <see cref="LayerNorm"/> with the same weight, bias and eps (docs/NORMS.md).
        /// Statistics in fp32 whatever the input dtype; the result has the input's dtype.
        /// </summary>
        public static Tensor RmsNormBias(Tensor x, NormWeight norm, double eps, double scale = 1.0)
        {
            using var scope = NewDisposeScope();
            var y = RmsNorm(x, norm, eps, scale);
            var b = scale == 1.0 ? norm.bias! : norm.bias! * scale;
            if (b.dtype != y.dtype) b = b.to(y.dtype);
            return y.add_(b).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Compressed RMSNorm with a folded output scale: <paramref name="x"/> holds the first <c>d - 1</c> coordinates of
        /// a zero-mean vector (the last is minus their sum); the result is the whole vector's RMSNorm with bias,
        /// <c>[x, -sum(x)] * rsqrt((sum(x^2) + sum(x)^2) / d + eps) * (weight * scale) + bias * scale</c>, <c>d</c> wide
        /// (the width of <paramref name="norm"/>). Statistics in fp32; the result has the input's dtype.
        /// </summary>
        public static Tensor CRmsNorm(Tensor x, NormWeight norm, double eps, double scale = 1.0)
        {
            using var scope = NewDisposeScope();
            // The restored coordinate sums d - 1 others: in fp32 (as the statistics), whatever the input dtype.
            bool wide = x.dtype == ScalarType.Float32 || x.dtype == ScalarType.Float64;
            var y = RmsNormBias(Decompress(wide ? x : x.to(ScalarType.Float32)), norm, eps, scale);
            return (wide ? y : y.to(x.dtype)).MoveToOuterDisposeScope();
        }

        /// <summary>A compressed stream's whole vector: <c>[x, -sum(x)]</c> along the last dimension.</summary>
        public static Tensor Decompress(Tensor x)
        {
            using var scope = NewDisposeScope();
            return cat(new[] { x, x.sum(new long[] { -1 }, keepdim: true).neg_() }, -1).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Gemma's RMSNorm with a folded output scale: <c>x * rsqrt(mean(x^2, -1) + eps) * ((1 + weight) * scale)</c>, the
        /// whole computation in fp32 whatever the input dtype (as Gemma computes it); the result has the input's dtype.
        /// </summary>
        public static Tensor RmsNormPlusOne(Tensor x, NormWeight norm, double eps, double scale = 1.0)
        {
            using var scope = NewDisposeScope();
            bool wide = x.dtype == ScalarType.Float32 || x.dtype == ScalarType.Float64;
            var xf = wide ? x : x.to(ScalarType.Float32);
            var y = xf * xf.square().mean(new long[] { -1 }, keepdim: true).add_(eps).rsqrt_();
            var w = norm.weight.to(xf.dtype) + 1.0;
            if (scale != 1.0) w = w * scale;
            y = y * w;
            return (wide ? y : y.to(x.dtype)).MoveToOuterDisposeScope();
        }

        /// <summary><c>x * factor</c> with the factor first rounded to <paramref name="x"/>'s dtype (Gemma's embedding
        /// normaliser: <c>torch.tensor(hidden ** 0.5, dtype=x.dtype)</c>).</summary>
        public static Tensor MulInDtype(Tensor x, double factor)
        {
            using var f = tensor(factor, dtype: x.dtype, device: x.device);
            return x.mul(f);
        }

        /// <summary>Soft-capping: <c>tanh(x / cap) * cap</c> (Gemma-2's logit and attention soft-caps).</summary>
        /// <summary>Hyper-connections: the residual stream <c>[B, T, C]</c> copied into <paramref name="streams"/> streams, <c>[B, T, n, C]</c>.</summary>
        public static Tensor HyperExpand(Tensor x, int streams)
            => x.unsqueeze(-2).expand(x.shape[0], x.shape[1], streams, x.shape[2]).contiguous();

        /// <summary>Hyper-connections: the streams <c>[B, T, n, C]</c> summed into the one stream the head reads, <c>[B, T, C]</c>.</summary>
        public static Tensor HyperMerge(Tensor streams) => streams.sum(new long[] { -2 });

        /// <summary>
        /// Hyper-connections' coefficients per token, <c>[B, T, n (n + 2)]</c> in fp32: from the flattened streams RMS-normalised
        /// (<c>x~ = vec(X) * rsqrt(mean(vec(X)^2) + eps)</c>, no gain), <c>z = x~ phi</c>, then <c>H_pre = sigmoid(alpha_pre z_pre + b_pre)</c>,
        /// <c>H_post = 2 sigmoid(alpha_post z_post + b_post)</c> and <c>H_res = Sinkhorn(exp(alpha_res z_res + b_res))</c> (doubly
        /// stochastic: <see cref="HyperConnections.SinkhornIterations"/> rounds of column then row normalisation) or, without
        /// <paramref name="manifold"/>, <c>alpha_res z_res + b_res</c> itself.
        /// </summary>
        public static Tensor HyperMix(Tensor streams, HyperConnectionWeights w, bool manifold, double eps)
        {
            using var scope = NewDisposeScope();
            long b = streams.shape[0], t = streams.shape[1], n = streams.shape[2], c = streams.shape[3];
            var flat = streams.reshape(b, t, n * c);
            if (flat.dtype != ScalarType.Float32 && flat.dtype != ScalarType.Float64) flat = flat.to(ScalarType.Float32);
            var normed = flat * flat.square().mean(new long[] { -1 }, keepdim: true).add(eps).rsqrt();
            var z = normed.matmul(w.phi.to(normed.dtype));
            var alpha = w.alpha.to(normed.dtype);
            var bias = w.bias.to(normed.dtype);
            var pre = z.narrow(-1, 0, n).mul(alpha[0]).add(bias.narrow(0, 0, n)).sigmoid();
            var post = z.narrow(-1, n, n).mul(alpha[1]).add(bias.narrow(0, n, n)).sigmoid().mul(2.0);
            var res = z.narrow(-1, 2 * n, n * n).mul(alpha[2]).add(bias.narrow(0, 2 * n, n * n)).view(b, t, n, n);
            if (manifold)
            {
                res = res.exp();
                for (int i = 0; i < HyperConnections.SinkhornIterations; i++)
                {
                    res = res / res.sum(new long[] { -2 }, keepdim: true); // columns
                    res = res / res.sum(new long[] { -1 }, keepdim: true); // rows: each new stream a convex mix of the old
                }
            }
            return cat(new[] { pre, post, res.reshape(b, t, n * n) }, -1).MoveToOuterDisposeScope();
        }

        /// <summary>Hyper-connections' branch input <c>H_pre X</c>: the streams <c>[B, T, n, C]</c> weighted by <c>H_pre</c> and summed, <c>[B, T, C]</c>.</summary>
        public static Tensor HyperRead(Tensor streams, Tensor mix)
        {
            using var scope = NewDisposeScope();
            long n = streams.shape[2];
            var pre = mix.narrow(-1, 0, n).to(streams.dtype);
            return (streams * pre.unsqueeze(-1)).sum(new long[] { -2 }).MoveToOuterDisposeScope();
        }

        /// <summary>Hyper-connections' residual add <c>H_res X + H_post^T f</c>: the streams <c>[B, T, n, C]</c> mixed, the branch
        /// output <paramref name="branch"/> <c>[B, T, C]</c> written into each with its weight.</summary>
        public static Tensor HyperWrite(Tensor streams, Tensor mix, Tensor branch)
        {
            using var scope = NewDisposeScope();
            long b = streams.shape[0], t = streams.shape[1], n = streams.shape[2];
            var post = mix.narrow(-1, n, n).to(streams.dtype);
            var res = mix.narrow(-1, 2 * n, n * n).to(streams.dtype).view(b, t, n, n);
            return res.matmul(streams).add_(post.unsqueeze(-1) * branch.unsqueeze(-2)).MoveToOuterDisposeScope();
        }

        public static Tensor SoftCap(Tensor x, double cap)
        {
            using var scope = NewDisposeScope();
            return x.div(cap).tanh().mul(cap).MoveToOuterDisposeScope();
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
            => RopeTables(maxSeq, headDim, theta, RopeScaling.None);

        /// <summary>The tables of <paramref name="spec"/>'s RoPE: its base, and its frequency scaling.</summary>
        public static (Tensor Cos, Tensor Sin) RopeTables(ModelSpec spec)
            => RopeTables(spec.MaxSeq, spec.HeadDim, spec.RopeTheta, spec.RopeScaling, spec.RopeFactor,
                spec.RopeLowFreqFactor, spec.RopeHighFreqFactor, spec.RopeOriginalMaxSeq);

        /// <summary>
        /// The rotary inverse frequencies <c>inv_freq[j] = theta^(-2j/d)</c>, <c>j &lt; d/2</c>, scaled as Hugging Face's
        /// <c>rope_scaling</c> says: Linear divides every one by <paramref name="factor"/>; Llama3 divides those whose
        /// wavelength <c>2 pi / inv_freq</c> exceeds <c>originalMaxSeq / lowFreqFactor</c>, keeps those below
        /// <c>originalMaxSeq / highFreqFactor</c>, and between mixes <c>(1 - s) * inv_freq / factor + s * inv_freq</c> with
        /// <c>s = (originalMaxSeq / wavelen - low) / (high - low)</c>. In fp64.
        /// </summary>
        public static double[] RopeInverseFrequencies(int headDim, double theta, RopeScaling scaling = RopeScaling.None, double factor = 1,
            double lowFreqFactor = 1, double highFreqFactor = 4, int originalMaxSeq = 8192)
        {
            var inv = new double[headDim / 2];
            for (int j = 0; j < inv.Length; j++)
            {
                double f = 1.0 / Math.Pow(theta, 2.0 * j / headDim);
                switch (scaling)
                {
                    case RopeScaling.Linear:
                        f /= factor;
                        break;
                    case RopeScaling.Llama3:
                        double wavelen = 2 * Math.PI / f;
                        double lowWavelen = originalMaxSeq / lowFreqFactor, highWavelen = originalMaxSeq / highFreqFactor;
                        if (wavelen > lowWavelen) f /= factor;
                        else if (wavelen >= highWavelen)
                        {
                            double s = (originalMaxSeq / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                            f = (1 - s) * f / factor + s * f;
                        }
                        break;
                }
                inv[j] = f;
            }
            return inv;
        }

        /// <summary>The <c>[maxSeq, headDim]</c> cos and sin tables with frequency scaling (<see cref="RopeInverseFrequencies"/>), computed in fp64.</summary>
        public static (Tensor Cos, Tensor Sin) RopeTables(int maxSeq, int headDim, double theta, RopeScaling scaling, double factor = 1,
            double lowFreqFactor = 1, double highFreqFactor = 4, int originalMaxSeq = 8192)
        {
            using var scope = NewDisposeScope();
            var inv = scaling == RopeScaling.None
                ? pow(theta, arange(0, headDim, 2, dtype: ScalarType.Float64) / headDim).reciprocal()
                : tensor(RopeInverseFrequencies(headDim, theta, scaling, factor, lowFreqFactor, highFreqFactor, originalMaxSeq), dtype: ScalarType.Float64);
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

        /// <summary>
        /// Initialises a weight that writes a compressed (CRMSNorm) stream, <paramref name="dim"/> being its <c>d - 1</c>
        /// stream coordinates: draws the uncompressed <c>d</c>-wide weight from N(0, std), removes its mean along
        /// <paramref name="dim"/> and keeps the first <c>d - 1</c> (what converting a freshly initialised Pre-LN model gives).
        /// </summary>
        public static void InitNormalCompressed(Tensor weight, double std, Generator generator, int dim)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var shape = weight.shape.ToArray();
            shape[dim] += 1;
            var full = empty(shape, dtype: weight.dtype).normal_(0.0, std, generator);
            full.sub_(full.mean(new long[] { dim }, keepdim: true));
            weight.copy_(full.narrow(dim, 0, shape[dim] - 1));
        }
    }
}
