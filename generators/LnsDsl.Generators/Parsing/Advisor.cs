using System.Collections.Generic;
using LnsDsl.Generators.Model;

namespace LnsDsl.Generators.Parsing
{
    /// <summary>
    /// The advice (LNS1xx warnings, LNS2xx information) on a valid declaration: legal combinations that the
    /// literature contradicts or that do nothing. One rule per method; rules only see valid declarations (with
    /// an error, the error is the message). Each rule yields its diagnostics, nothing where it does not apply.
    /// </summary>
    internal static class Advisor
    {
        private delegate IEnumerable<DiagnosticInfo> Rule(RawDeclaration d);

        /// <summary>Every rule, in the order their diagnostics are reported.</summary>
        private static readonly Rule[] Rules =
        {
            LnsWithScaledInit,
            DeepNormWithScaledInit,
            ScaleWithoutPreNorm,
            ScalePartialOnMix,
            PostLayersWithoutMix,
            PostLnDivergenceRisk,
            MixLnDivergenceRisk,
            LayerScaleWithLns,
            AlphaBetaWithoutDeepNorm,
            QkNormScopeWithoutQkNorm,
            RopeScalingArgumentUnused,
            InvDepthTooAggressive,
            DeepPreLnWithoutDepthControl,
            PreLayerNormIsRmsNorm,
            NormFreeWithoutGate,
            GateInitWithoutGate,
            TanhAlphaWithoutDyT,
            TwoDepthControls,
            RuleWithScaledInit,
            BaseLayersWithoutRule,
            TanhNormOnEmbedding,
            QkNormArgumentOnHybrid,
            HybridArgumentWithoutHybrid,
            KappaWithoutBHyT,
            UnconstrainedHyperConnections,
        };

        /// <summary>LNS204: hyper-connections without mHC's manifold constraint.</summary>
        private static IEnumerable<DiagnosticInfo> UnconstrainedHyperConnections(RawDeclaration d)
        {
            if (d.HyperConnections is { } hc && !d.HyperManifold)
                yield return At(d, DiagnosticDescriptors.UnconstrainedHyperConnections, hc.At(hc.Manifold), d.Layers);
        }

        /// <summary>LNS114: a residual depth rule beside LNS, LayerScale or DeepNorm's alpha.</summary>
        private static IEnumerable<DiagnosticInfo> TwoDepthControls(RawDeclaration d)
        {
            if (d.ResidualRule == ResidualRule.None) yield break;
            var at = d.Residual?.At(d.Residual.Rule);
            if (d.Scale != ScaleRule.None && d.Kind is not (Kind.Post or Kind.DeepNorm or Kind.OutputNorm or Kind.None or Kind.Hybrid))
                yield return At(d, DiagnosticDescriptors.TwoDepthControls, at, d.ResidualRule, "Scale = " + ScaleText(d) + " (LNS)");
            if (d.LayerScale is not null)
                yield return At(d, DiagnosticDescriptors.TwoDepthControls, at, d.ResidualRule, "[LayerScale]");
            if (d.Kind == Kind.DeepNorm)
                yield return At(d, DiagnosticDescriptors.TwoDepthControls, at, d.ResidualRule, "DeepNorm's residual alpha");
        }

        /// <summary>LNS115: a residual depth rule with a depth-scaled output initialisation.</summary>
        private static IEnumerable<DiagnosticInfo> RuleWithScaledInit(RawDeclaration d)
        {
            if (d.ResidualRule != ResidualRule.None && d.ScaledInit)
                yield return At(d, DiagnosticDescriptors.RuleWithScaledInit, d.Init?.Output.Location ?? d.Residual?.At(d.Residual.Rule), d.ResidualRule, d.OutputInit);
        }

        /// <summary>LNS116: BaseLayers without a rule.</summary>
        private static IEnumerable<DiagnosticInfo> BaseLayersWithoutRule(RawDeclaration d)
        {
            if (d.Residual is { BaseLayers.IsGiven: true } r && d.ResidualRule == ResidualRule.None)
                yield return At(d, DiagnosticDescriptors.BaseLayersWithoutRule, r.BaseLayers.Location, d.BaseLayers);
        }

        /// <summary>LNS117: DyT or BHyT on the embedding output.</summary>
        private static IEnumerable<DiagnosticInfo> TanhNormOnEmbedding(RawDeclaration d)
        {
            if (d.EmbeddingNorm && Norms.HasAlpha(d.NormType))
                yield return At(d, DiagnosticDescriptors.TanhNormOnEmbedding, d.Norm?.EmbeddingNorm.Location ?? d.Norm?.At(d.Norm.Type), d.NormType,
                    (d.EmbeddingStd > 0 ? d.EmbeddingStd : d.Std).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        }

        /// <summary>LNS118: QkNorm or QkNormScope on a HybridNorm model.</summary>
        private static IEnumerable<DiagnosticInfo> QkNormArgumentOnHybrid(RawDeclaration d)
        {
            if (d.Kind != Kind.Hybrid || d.Attention is not { } a) yield break;
            if (a.QkNorm.IsGiven) yield return At(d, DiagnosticDescriptors.QkNormArgumentOnHybrid, a.At(a.QkNorm), "QkNorm = " + (d.QkNorm ? "true" : "false"));
            if (a.QkNormScope.IsGiven) yield return At(d, DiagnosticDescriptors.QkNormArgumentOnHybrid, a.At(a.QkNormScope), "QkNormScope = QkNormScope." + d.QkNormScope);
        }

        /// <summary>LNS119: FirstBlockPreNorm without Kind.Hybrid.</summary>
        private static IEnumerable<DiagnosticInfo> HybridArgumentWithoutHybrid(RawDeclaration d)
        {
            if (d.Kind != Kind.Hybrid && d.Norm is { FirstBlockPreNorm.IsGiven: true } n && d.FirstBlockPreNorm)
                yield return At(d, DiagnosticDescriptors.HybridArgumentWithoutHybrid, n.At(n.FirstBlockPreNorm), d.Kind);
        }

        /// <summary>LNS120: Kappa without BHyT.</summary>
        private static IEnumerable<DiagnosticInfo> KappaWithoutBHyT(RawDeclaration d)
        {
            if (d.NormType != NormType.BHyT && d.Norm is { Kappa.IsGiven: true } n)
                yield return At(d, DiagnosticDescriptors.KappaWithoutBHyT, n.At(n.Kappa), d.Kappa, d.NormType);
        }

        /// <summary>LNS113: a DyT alpha on a model whose norms are not DyT.</summary>
        private static IEnumerable<DiagnosticInfo> TanhAlphaWithoutDyT(RawDeclaration d)
        {
            if (Norms.HasAlpha(d.NormType) || d.Norm is not { } n) yield break;
            foreach (var (name, argument) in new[] { (nameof(NormAttribute.TanhAlpha), n.TanhAlpha), (nameof(NormAttribute.TanhAlphaMlp), n.TanhAlphaMlp), (nameof(NormAttribute.TanhAlphaFinal), n.TanhAlphaFinal) })
                if (argument.IsGiven) yield return At(d, DiagnosticDescriptors.TanhAlphaWithoutDyT, argument.Location, name, d.NormType);
        }

        /// <summary>LNS111: blocks without norms and without a residual gate: nothing bounds the stream.</summary>
        private static IEnumerable<DiagnosticInfo> NormFreeWithoutGate(RawDeclaration d)
        {
            if (d.Kind == Kind.None && d.ResidualGate == ResidualGate.None)
                yield return At(d, DiagnosticDescriptors.NormFreeWithoutGate, d.Norm?.At(d.Norm.Kind));
        }

        /// <summary>LNS112: a GateInit without a gate.</summary>
        private static IEnumerable<DiagnosticInfo> GateInitWithoutGate(RawDeclaration d)
        {
            if (d.Residual is { GateInit.IsGiven: true } r && d.ResidualGate == ResidualGate.None)
                yield return At(d, DiagnosticDescriptors.GateInitWithoutGate, r.GateInit.Location, d.ResidualGateInit);
        }

        /// <summary>Adds the advice on the valid declaration <paramref name="d"/> to <paramref name="diagnostics"/>.</summary>
        public static void Advise(RawDeclaration d, List<DiagnosticInfo> diagnostics)
        {
            foreach (var rule in Rules)
                diagnostics.AddRange(rule(d));
        }

        /// <summary>LNS101, the paper's caveat: LNS with depth-scaled output initialisation.</summary>
        private static IEnumerable<DiagnosticInfo> LnsWithScaledInit(RawDeclaration d)
        {
            if (d.Kind is (Kind.Pre or Kind.Mix) && d.Scale != ScaleRule.None && d.ScaledInit)
                yield return DiagnosticInfo.Create(DiagnosticDescriptors.LnsWithScaledInit,
                    d.Init?.Output.Location ?? d.Norm?.At(d.Norm.Scale) ?? d.NameLocation, ScaleText(d), d.OutputInit);
        }

        /// <summary>LNS102: DeepNorm's own init and a depth-scaled output init (two variance controls).</summary>
        private static IEnumerable<DiagnosticInfo> DeepNormWithScaledInit(RawDeclaration d)
        {
            if (d.Kind == Kind.DeepNorm && d.ScaledInit)
                yield return At(d, DiagnosticDescriptors.DeepNormWithScaledInit, d.Init?.Output.Location, d.OutputInit);
        }

        /// <summary>LNS103: a scale rule on blocks that have no pre-norm.</summary>
        private static IEnumerable<DiagnosticInfo> ScaleWithoutPreNorm(RawDeclaration d)
        {
            if (d.Scale != ScaleRule.None && d.Kind is (Kind.Post or Kind.DeepNorm or Kind.OutputNorm or Kind.None or Kind.Hybrid))
                yield return At(d, DiagnosticDescriptors.ScaleWithoutPreNorm, d.Norm?.At(d.Norm.Scale), ScaleText(d), "Kind." + d.Kind);
        }

        /// <summary>LNS104: on Mix-LN, the scale rule reaches only the Pre-LN blocks.</summary>
        private static IEnumerable<DiagnosticInfo> ScalePartialOnMix(RawDeclaration d)
        {
            if (d.Scale != ScaleRule.None && d.Kind == Kind.Mix && d.PostLayers > 0 && d.PostLayers < d.Layers)
                yield return At(d, DiagnosticDescriptors.ScalePartialOnMix, d.Norm?.At(d.Norm.Scale), ScaleText(d), d.PostLayers + 1, d.Layers, d.PostLayers);
        }

        /// <summary>LNS105: PostLayers without Mix-LN.</summary>
        private static IEnumerable<DiagnosticInfo> PostLayersWithoutMix(RawDeclaration d)
        {
            if (d.Kind != Kind.Mix && d.Norm is { PostLayers.IsGiven: true } norm)
                yield return At(d, DiagnosticDescriptors.PostLayersWithoutMix, norm.At(norm.PostLayers), d.PostLayers, d.Kind);
        }

        /// <summary>LNS106 for Post-LN: diverged in the paper at 24 blocks.</summary>
        private static IEnumerable<DiagnosticInfo> PostLnDivergenceRisk(RawDeclaration d)
        {
            if (d.Kind == Kind.Post && d.Layers >= 24)
                yield return At(d, DiagnosticDescriptors.DivergenceRisk, d.Norm?.At(d.Norm.Kind), "Post-LN", d.Layers, d.Hidden,
                    "perplexity above 1,000 at 250M, 350M and 1B, all 24 blocks deep");
        }

        /// <summary>LNS106 for Mix-LN: diverged in the paper at 24 blocks of width 1024 and more.</summary>
        private static IEnumerable<DiagnosticInfo> MixLnDivergenceRisk(RawDeclaration d)
        {
            if (d.Kind == Kind.Mix && d.Layers >= 24 && d.Hidden >= 1024)
                yield return At(d, DiagnosticDescriptors.DivergenceRisk, d.Norm?.At(d.Norm.Kind), "Mix-LN", d.Layers, d.Hidden,
                    "perplexity above 1,000 at 350M and 1B: 24 blocks, width 1024 and more");
        }

        /// <summary>LNS107: LayerScale and LNS, two depth-dependent gains.</summary>
        private static IEnumerable<DiagnosticInfo> LayerScaleWithLns(RawDeclaration d)
        {
            if (d.LayerScale is { } layerScale && d.Scale != ScaleRule.None && d.Kind is not (Kind.Post or Kind.DeepNorm or Kind.OutputNorm))
                yield return At(d, DiagnosticDescriptors.LayerScaleWithLns, layerScale.Location, ScaleText(d));
        }

        /// <summary>LNS108: Alpha or Beta without DeepNorm.</summary>
        private static IEnumerable<DiagnosticInfo> AlphaBetaWithoutDeepNorm(RawDeclaration d)
        {
            if (d.Kind == Kind.DeepNorm || d.Norm is not { } norm) yield break;
            if (norm.Alpha.IsGiven)
                yield return At(d, DiagnosticDescriptors.AlphaBetaWithoutDeepNorm, norm.At(norm.Alpha), nameof(NormAttribute.Alpha), norm.Alpha.Or(0), d.Kind);
            if (norm.Beta.IsGiven)
                yield return At(d, DiagnosticDescriptors.AlphaBetaWithoutDeepNorm, norm.At(norm.Beta), nameof(NormAttribute.Beta), norm.Beta.Or(0), d.Kind);
        }

        /// <summary>LNS109: QkNormScope given without QkNorm.</summary>
        private static IEnumerable<DiagnosticInfo> QkNormScopeWithoutQkNorm(RawDeclaration d)
        {
            if (!d.QkNorm && d.Kind != Kind.Hybrid && d.Attention is { QkNormScope.IsGiven: true } attention) // HybridNorm: LNS118
                yield return At(d, DiagnosticDescriptors.QkNormScopeWithoutQkNorm, attention.At(attention.QkNormScope), d.QkNormScope);
        }

        /// <summary>LNS110: RoPE scaling without RoPE, or a scaling argument the declared scaling does not read.</summary>
        private static IEnumerable<DiagnosticInfo> RopeScalingArgumentUnused(RawDeclaration d)
        {
            if (d.Attention is not { } a) yield break;
            if (!d.Rope)
            {
                if (a.RopeScaling.IsGiven && d.RopeScaling != RopeScaling.None)
                    yield return At(d, DiagnosticDescriptors.RopeScalingArgumentUnused, a.At(a.RopeScaling), "RopeScaling = RopeScaling." + d.RopeScaling, "with Rope = false");
                yield break;
            }
            string why = "with RopeScaling." + d.RopeScaling;
            if (d.RopeScaling == RopeScaling.None && a.RopeFactor.IsGiven)
                yield return At(d, DiagnosticDescriptors.RopeScalingArgumentUnused, a.At(a.RopeFactor), nameof(AttentionAttribute.RopeFactor), why);
            if (d.RopeScaling != RopeScaling.Llama3)
            {
                if (a.RopeLowFreqFactor.IsGiven)
                    yield return At(d, DiagnosticDescriptors.RopeScalingArgumentUnused, a.At(a.RopeLowFreqFactor), nameof(AttentionAttribute.RopeLowFreqFactor), why);
                if (a.RopeHighFreqFactor.IsGiven)
                    yield return At(d, DiagnosticDescriptors.RopeScalingArgumentUnused, a.At(a.RopeHighFreqFactor), nameof(AttentionAttribute.RopeHighFreqFactor), why);
                if (a.RopeOriginalMaxSeq.IsGiven)
                    yield return At(d, DiagnosticDescriptors.RopeScalingArgumentUnused, a.At(a.RopeOriginalMaxSeq), nameof(AttentionAttribute.RopeOriginalMaxSeq), why);
            }
        }

        /// <summary>LNS201: the 1/l rule, which the paper found too aggressive.</summary>
        private static IEnumerable<DiagnosticInfo> InvDepthTooAggressive(RawDeclaration d)
        {
            if (d.Scale == ScaleRule.InvDepth && d.Kind is not (Kind.Post or Kind.DeepNorm or Kind.OutputNorm))
                yield return At(d, DiagnosticDescriptors.InvDepthTooAggressive, d.Norm?.At(d.Norm.Scale), d.Layers > 0 ? d.Layers : 1);
        }

        /// <summary>LNS202: a deep Pre-LN model with no depth control at all (the curse of depth).</summary>
        private static IEnumerable<DiagnosticInfo> DeepPreLnWithoutDepthControl(RawDeclaration d)
        {
            if (d.Kind == Kind.Pre && d.Layers >= 24 && d.Scale == ScaleRule.None && d.LayerScale is null && !d.ScaledInit)
                yield return At(d, DiagnosticDescriptors.DeepPreLnWithoutDepthControl, d.Norm?.At(d.Norm.Kind) ?? d.Model.At(d.Model.Layers), d.Layers);
        }

        private static string ScaleText(RawDeclaration d) => "ScaleRule." + d.Scale;

        /// <summary>LNS203: Pre-LN with LayerNorm, read only through its norms, converts exactly to Pre-RMSNorm (Jiang et al. 2023).</summary>
        private static IEnumerable<DiagnosticInfo> PreLayerNormIsRmsNorm(RawDeclaration d)
        {
            if (d.Kind == Kind.Pre && d.NormType == NormType.LayerNorm && !d.EmbeddingNorm && d.LayerScale is null)
                yield return At(d, DiagnosticDescriptors.PreLayerNormIsRmsNorm, d.Norm?.At(d.Norm.Type), d.ClassName,
                    d.TieEmbeddings ? " (with --untie: the head keeps the original embedding)" : "");
        }

        /// <summary>A diagnostic at <paramref name="location"/>, else at the class name.</summary>
        private static DiagnosticInfo At(RawDeclaration d, Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, LocationInfo? location, params object[] args)
            => DiagnosticInfo.Create(descriptor, location ?? d.NameLocation, args);
    }
}
