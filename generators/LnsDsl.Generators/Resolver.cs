using System;
using System.Collections.Generic;
using System.Linq;
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
        /// <summary>The resolved model of the valid declaration <paramref name="d"/>.</summary>
        public static ModelDeclaration Resolve(RawDeclaration d)
        {
            var m = new ModelDeclaration
            {
                Namespace = d.Namespace,
                ClassName = d.ClassName,
                ContainingTypes = new EquatableArray<ContainingType>(d.ContainingTypes.Select(t => new ContainingType(t.Keyword, t.Name))),
                VisibleToAssembly = d.VisibleToAssembly,
                Layers = d.Layers,
                Hidden = d.Hidden,
                Heads = d.Heads,
                KvHeads = d.KvHeads,
                HeadDim = d.HeadDim,
                FeedForward = d.FeedForwardSize,
                Vocab = d.Vocab,
                MaxSeq = d.MaxSeq,
                TieEmbeddings = d.TieEmbeddings,
                Norm = d.Kind,
                NormType = d.NormType,
                Scale = d.Scale,
                Eps = d.Eps,
                PostLayers = d.Kind == Kind.Mix ? d.PostLayers : 0,
                Alpha = d.Kind == Kind.DeepNorm ? (d.AlphaOverride > 0 ? d.AlphaOverride : Placements.DeepNormAlpha(d.Layers)) : 1.0,
                Beta = d.Kind == Kind.DeepNorm ? (d.BetaOverride > 0 ? d.BetaOverride : Placements.DeepNormBeta(d.Layers)) : 1.0,
                Rope = d.Rope,
                RopeTheta = d.RopeTheta,
                QkNorm = d.QkNorm || d.Kind == Kind.Hybrid, // HybridNorm normalises q, k and v per head
                ValueNorm = d.Kind == Kind.Hybrid,
                HyperStreams = d.HyperStreams,
                HyperManifold = d.HyperStreams > 0 && d.HyperManifold,
                FirstBlockPreNorm = d.Kind == Kind.Hybrid && d.FirstBlockPreNorm,
                ResidualRule = d.ResidualRule,
                BaseLayers = d.ResidualRule != ResidualRule.None ? d.BaseLayers : 1,
                BranchMultiplier = Placements.BranchMultiplier(d.ResidualRule, d.Layers, d.ResidualRule != ResidualRule.None ? d.BaseLayers : 1),
                Kappa = d.NormType == NormType.BHyT ? d.Kappa : 0,
                Activation = d.Activation,
                Std = d.Std,
                EmbeddingStd = d.EmbeddingStd > 0 ? d.EmbeddingStd : d.Std,
                OutputInit = d.OutputInit,
                LayerScale = d.LayerScale is not null,
                LayerScaleInit = d.LayerScale is not null ? d.LayerScaleInit : 0,
                ResidualGate = d.ResidualGate,
                TanhAlpha = TanhAlphas(d).Attention,
                TanhAlphaMlp = TanhAlphas(d).Mlp,
                TanhAlphaFinal = TanhAlphas(d).Final,
                ResidualGateInit = d.ResidualGate != ResidualGate.None ? d.ResidualGateInit : 0,
                EmbeddingNorm = d.EmbeddingNorm,
                ScaleEmbeddings = d.ScaleEmbeddings,
                LogitSoftCap = d.LogitSoftCap,
                QkNormScope = d.QkNorm && d.Kind != Kind.Hybrid ? d.QkNormScope : QkNormScope.Head,
                QkvBias = d.QkvBias,
                OutputBias = d.OutputBias,
                MlpBias = d.MlpBias,
                SoftCap = d.SoftCap,
                QueryScaleDim = d.QueryScaleDim == d.HeadDim ? 0 : d.QueryScaleDim,
            };
            if (d.Rope && d.RopeScaling != RopeScaling.None)
            {
                bool llama3 = d.RopeScaling == RopeScaling.Llama3;
                m = m with
                {
                    RopeScaling = d.RopeScaling,
                    RopeFactor = d.RopeFactor,
                    RopeLowFreqFactor = llama3 ? d.RopeLowFreqFactor : 1,
                    RopeHighFreqFactor = llama3 ? d.RopeHighFreqFactor : 4,
                    RopeOriginalMaxSeq = llama3 ? d.RopeOriginalMaxSeq : 8192,
                };
            }
            var blocks = new List<BlockDeclaration>(m.Layers);
            for (int l = 1; l <= m.Layers; l++)
            {
                var placement = Placements.PlacementOf(m.Norm, l, m.PostLayers, m.FirstBlockPreNorm);
                double normScale = Placements.HasPreNorm(placement) ? Placements.ScaleFactor(m.Scale, l) : 1.0;
                double residualAlpha = placement == Placement.DeepNorm ? m.Alpha : 1.0;
                blocks.Add(new BlockDeclaration(l, placement, normScale, residualAlpha, InitFor(m, l, placement, m.Beta)));
            }
            m = m with { Blocks = new EquatableArray<BlockDeclaration>(blocks) };
            return m with { ParameterCount = CountParameters(m) };
        }

        /// <summary>The initial alphas (DyT) or lambdas (BHyT) at the attention, MLP and final positions: the user's, else
        /// the type's defaults (DyT: TanhAlpha 0.5 everywhere; BHyT: 2 before attention, 1 before the MLP and final, the
        /// paper's first setting); each position not given takes the one before it. 0 for the other norm types.</summary>
        private static (double Attention, double Mlp, double Final) TanhAlphas(RawDeclaration d)
        {
            if (!Norms.HasAlpha(d.NormType)) return (0, 0, 0);
            bool bhyt = d.NormType == NormType.BHyT;
            double attention = bhyt && !d.TanhAlphaGiven ? Norms.BHyTLambdaAttention : d.TanhAlpha;
            double mlp = d.TanhAlphaMlp > 0 ? d.TanhAlphaMlp : bhyt && !d.TanhAlphaGiven ? Norms.BHyTLambdaMlp : attention;
            double final = d.TanhAlphaFinal > 0 ? d.TanhAlphaFinal : mlp;
            return (attention, mlp, final);
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
            long h = m.Hidden, norm = Norms.ParameterCount(m.NormType, h); // weight (and bias, and DyT's alpha)
            long w = Norms.StreamWidth(m.NormType, m.Hidden);                  // what embed_tokens, o_proj, down_proj write
            long total = (long)m.Vocab * w;                                   // embed_tokens
            if (!m.TieEmbeddings) total += (long)m.Vocab * h;                 // lm_head
            total += norm;                                                    // final norm
            if (m.EmbeddingNorm) total += norm;                               // Peri-LN embed_norm
            long qRows = (long)m.Heads * m.HeadDim, kvRows = (long)m.KvHeads * m.HeadDim;
            long qkNorm = (!m.QkNorm ? 0 : m.QkNormScope == QkNormScope.Projection ? qRows + kvRows : 2L * m.HeadDim) + (m.ValueNorm ? m.HeadDim : 0);
            long attention = (qRows + 2 * kvRows) * h + w * qRows + qkNorm
                             + (m.QkvBias ? qRows + 2 * kvRows : 0) + (m.OutputBias ? w : 0);
            bool gated = Activations.IsGated(m.Activation);
            long mlp = (gated ? 2L : 1L) * h * m.FeedForward + w * m.FeedForward + (m.MlpBias ? (gated ? 2L : 1L) * m.FeedForward + w : 0);
            foreach (var b in m.Blocks)
            {
                int norms = BlockPrograms.For(b.Placement, m.LayerScale, m.ResidualGate).Norms.Count;
                total += attention + mlp + norms * norm + (m.LayerScale ? 2 * h : 0) + (m.ResidualGate == ResidualGate.Scalar ? 2 : 0)
                         + (m.HyperStreams > 0 ? 2 * HyperConnections.ParameterCount(m.HyperStreams, h) : 0);
            }
            return total;
        }
    }
}
