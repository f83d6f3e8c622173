using System;
using System.Collections.Generic;
using LnsDsl.Generators.Model;

namespace LnsDsl.Generators
{
    /// <summary>
    /// Turns validated attribute values into the resolved architecture: each block's placement, LNS factor,
    /// residual multiplier and init std, and the parameter count. The placement facts themselves (which
    /// placement, the scale factor, DeepNorm's defaults) are <see cref="Placements"/>'s, shared with the
    /// runtime. The method is described in docs/METHOD.md and in Sun et al. 2025, "The Curse of Depth in Large
    /// Language Models" (arXiv 2502.05795).
    /// </summary>
    internal static class Resolver
    {
        public static ModelDeclaration Resolve(ModelDeclaration m)
        {
            int layers = m.Layers;
            double alpha = m.Norm == Kind.DeepNorm ? (m.Alpha > 0 ? m.Alpha : Placements.DeepNormAlpha(layers)) : 1.0;
            double beta = m.Norm == Kind.DeepNorm ? (m.Beta > 0 ? m.Beta : Placements.DeepNormBeta(layers)) : 1.0;
            var blocks = new List<BlockDeclaration>(layers);
            for (int l = 1; l <= layers; l++)
            {
                var placement = Placements.PlacementOf(m.Norm, l, m.PostLayers);
                double normScale = Placements.HasPreNorm(placement) ? Placements.ScaleFactor(m.Scale, l) : 1.0;
                double residualAlpha = placement == Placement.DeepNorm ? alpha : 1.0;
                blocks.Add(new BlockDeclaration(l, placement, normScale, residualAlpha, InitFor(m, l, placement, beta)));
            }
            var resolved = m with
            {
                Alpha = alpha,
                Beta = beta,
                Blocks = new EquatableArray<BlockDeclaration>(blocks),
            };
            return resolved with { ParameterCount = CountParameters(resolved) };
        }

        private static InitStds InitFor(ModelDeclaration m, int l, Placement placement, double beta)
        {
            // Output projections (o_proj, down_proj): Std, or Std / sqrt(2L), or Std / sqrt(2l).
            double outputFactor = m.OutputInit switch
            {
                OutputInit.ScaledByDepth => 1.0 / Math.Sqrt(2.0 * m.Layers),
                OutputInit.ScaledByLayer => 1.0 / Math.Sqrt(2.0 * l),
                _ => 1.0,
            };
            double h = m.Hidden, q = (double)m.Heads * m.HeadDim, kv = (double)m.KvHeads * m.HeadDim, f = m.FeedForward;
            if (placement == Placement.DeepNorm)
            {
                // DeepNet: Xavier-normal, std = gain * sqrt(2 / (fan_in + fan_out)); gain beta on v, o and the
                // MLP projections, 1 on q and k. Fans are those of the separate (unfused) matrices.
                static double Xavier(double gain, double fanIn, double fanOut) => gain * Math.Sqrt(2.0 / (fanIn + fanOut));
                return new InitStds(
                    Q: Xavier(1.0, h, q),
                    K: Xavier(1.0, h, kv),
                    V: Xavier(beta, h, kv),
                    O: Xavier(beta, q, h) * outputFactor,
                    Gate: Xavier(beta, h, f),
                    Up: Xavier(beta, h, f),
                    Down: Xavier(beta, f, h) * outputFactor);
            }
            double s = m.Std;
            return new InitStds(s, s, s, s * outputFactor, s, s, s * outputFactor);
        }

        private static long CountParameters(ModelDeclaration m)
        {
            long h = m.Hidden, norm = m.NormType == NormType.LayerNorm ? 2 * h : h;
            long total = (long)m.Vocab * h;                                   // embed_tokens
            if (!m.TieEmbeddings) total += (long)m.Vocab * h;                 // lm_head
            total += norm;                                                    // final norm
            if (m.EmbeddingNorm) total += norm;                               // Peri-LN embed_norm
            long qRows = (long)m.Heads * m.HeadDim, kvRows = (long)m.KvHeads * m.HeadDim;
            long attention = (qRows + 2 * kvRows) * h + h * qRows + (m.QkNorm ? 2L * m.HeadDim : 0);
            long mlp = (m.Activation == Activation.SwiGlu ? 3L : 2L) * h * m.FeedForward;
            foreach (var b in m.Blocks)
            {
                int norms = b.Placement == Placement.PeriLn ? 4 : 2;
                total += attention + mlp + norms * norm + (m.LayerScale ? 2 * h : 0);
            }
            return total;
        }
    }
}
