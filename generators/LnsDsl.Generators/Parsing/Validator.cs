using System;
using System.Collections.Generic;
using LnsDsl.Generators.Model;
using Microsoft.CodeAnalysis;

namespace LnsDsl.Generators.Parsing
{
    /// <summary>
    /// The errors (LNS0xx): everything that makes a declaration impossible to generate, each at the argument
    /// that causes it. A declaration with none is valid and goes on to the <see cref="Advisor"/> and the
    /// <see cref="Resolver"/>.
    /// </summary>
    internal static class Validator
    {
        /// <summary>Adds the errors of <paramref name="d"/> to <paramref name="diagnostics"/>; true where there are none.</summary>
        public static bool Validate(RawDeclaration d, List<DiagnosticInfo> diagnostics)
        {
            int count = diagnostics.Count;
            void Fail(DiagnosticDescriptor descriptor, LocationInfo? at, params object[] args)
                => diagnostics.Add(DiagnosticInfo.Create(descriptor, at ?? d.NameLocation, args));

            // --- the class itself -------------------------------------------------------------------------
            if (!d.IsPartial) Fail(DiagnosticDescriptors.NotPartial, d.NameLocation, d.ClassName);
            if (d.IsGeneric) Fail(DiagnosticDescriptors.Generic, d.NameLocation, d.ClassName);
            foreach (var outer in d.ContainingTypes)
                if (!outer.IsPartial) Fail(DiagnosticDescriptors.ContainingTypeNotPartial, outer.Location, outer.Name, d.ClassName);
            if (d.BaseClass is not null && d.BaseClass != KnownAttributes.TransformerModule)
                Fail(DiagnosticDescriptors.ModelHasBaseType, d.BaseClassLocation, d.ClassName, d.BaseClass);
            foreach (var duplicate in d.Duplicates)
                Fail(DiagnosticDescriptors.DuplicateAttribute, duplicate.Location, duplicate.Name, d.ClassName);

            // --- arguments the compiler could not bind to a constant (it reports its own error too) ------------
            foreach (var attribute in d.Attributes)
                foreach (var invalid in attribute.InvalidArguments)
                    Fail(DiagnosticDescriptors.NotConstant, invalid.Location, invalid.Name);

            // --- sizes -------------------------------------------------------------------------------------
            var model = d.Model;
            Size(nameof(TransformerModelAttribute.Layers), model.Layers, d.Layers, required: true);
            Size(nameof(TransformerModelAttribute.Hidden), model.Hidden, d.Hidden, required: true);
            Size(nameof(TransformerModelAttribute.Heads), model.Heads, d.Heads, required: true);
            Size(nameof(TransformerModelAttribute.FeedForward), model.FeedForward, d.FeedForwardSize, required: true);
            Size(nameof(TransformerModelAttribute.Vocab), model.Vocab, d.Vocab, required: true);
            Size(nameof(TransformerModelAttribute.KvHeads), model.KvHeads, model.KvHeads.Or(0) is var kv && kv != 0 ? kv : 1, required: false); // 0 means "= Heads"
            Size(nameof(TransformerModelAttribute.MaxSeq), model.MaxSeq, d.MaxSeq, required: false);
            Size(nameof(TransformerModelAttribute.HeadDim), model.HeadDim, d.HeadDimOverride != 0 ? d.HeadDimOverride : 1, required: false); // 0 means "= Hidden / Heads"
            if (d.Attention is { } attention)
            {
                SizeAt(nameof(AttentionAttribute.QueryScaleDim), attention.QueryScaleDim, attention, d.QueryScaleDim != 0 ? d.QueryScaleDim : 1); // 0 means "= HeadDim"
                SizeAt(nameof(AttentionAttribute.RopeOriginalMaxSeq), attention.RopeOriginalMaxSeq, attention, d.RopeOriginalMaxSeq);
            }
            void SizeAt(string name, Argument<int> size, RawAttribute on, int value)
            {
                if (size.IsInvalid) return;
                if (value < 1) Fail(DiagnosticDescriptors.NonPositiveSize, on.At(size), name, value);
                else if (value > UpperBound(name)) Fail(DiagnosticDescriptors.SizeTooLarge, on.At(size), name, value, UpperBound(name));
            }
            void Size(string name, Argument<int> size, int value, bool required)
            {
                if (size.IsInvalid) return;
                if (required && !size.IsGiven) Fail(DiagnosticDescriptors.MissingSize, model.Location, name);
                else if (value < 1) Fail(DiagnosticDescriptors.NonPositiveSize, model.At(size), name, value);
                else if (value > UpperBound(name)) Fail(DiagnosticDescriptors.SizeTooLarge, model.At(size), name, value, UpperBound(name));
            }
            if (d.HeadDimOverride == 0 && d.Hidden > 0 && d.Heads > 0 && d.Hidden % d.Heads != 0)
                Fail(DiagnosticDescriptors.HiddenNotDivisibleByHeads, model.At(model.Hidden), d.Hidden, d.Heads);
            if (d.Heads > 0 && d.KvHeads > 0 && d.Heads % d.KvHeads != 0)
                Fail(DiagnosticDescriptors.HeadsNotDivisibleByKvHeads, model.KvHeads.Location ?? model.At(model.Heads), d.Heads, d.KvHeads);
            if (d.Rope && d.HeadDim > 0 && d.HeadDim % 2 != 0)
                Fail(DiagnosticDescriptors.OddHeadDimWithRope, d.Attention?.Rope.Location ?? (d.HeadDimOverride != 0 ? model.At(model.HeadDim) : model.At(model.Hidden)),
                    (d.HeadDimOverride != 0 ? "HeadDim = " : "Hidden / Heads = ") + d.HeadDim.ToString(System.Globalization.CultureInfo.InvariantCulture));

            // --- enum values (a cast such as (Kind)7 compiles but means nothing) --------------------------------
            if (!Enum.IsDefined(typeof(Kind), d.Kind))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Norm?.At(d.Norm.Kind), nameof(NormAttribute.Kind), (int)d.Kind, nameof(Kind));
            if (!Enum.IsDefined(typeof(ScaleRule), d.Scale))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Norm?.At(d.Norm.Scale), nameof(NormAttribute.Scale), (int)d.Scale, nameof(ScaleRule));
            if (!Enum.IsDefined(typeof(NormType), d.NormType))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Norm?.At(d.Norm.Type), nameof(NormAttribute.Type), (int)d.NormType, nameof(NormType));
            if (!Enum.IsDefined(typeof(Activation), d.Activation))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.FeedForward?.At(d.FeedForward.Activation), nameof(FeedForwardAttribute.Activation), (int)d.Activation, nameof(Activation));
            if (!Enum.IsDefined(typeof(QkNormScope), d.QkNormScope))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Attention?.At(d.Attention.QkNormScope), nameof(AttentionAttribute.QkNormScope), (int)d.QkNormScope, nameof(QkNormScope));
            if (!Enum.IsDefined(typeof(RopeScaling), d.RopeScaling))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Attention?.At(d.Attention.RopeScaling), nameof(AttentionAttribute.RopeScaling), (int)d.RopeScaling, nameof(RopeScaling));
            if (!Enum.IsDefined(typeof(ResidualGate), d.ResidualGate))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Residual?.At(d.Residual.Gate), nameof(ResidualAttribute.Gate), (int)d.ResidualGate, nameof(ResidualGate));
            if (!Enum.IsDefined(typeof(ResidualRule), d.ResidualRule))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Residual?.At(d.Residual.Rule), nameof(ResidualAttribute.Rule), (int)d.ResidualRule, nameof(ResidualRule));
            if (!Enum.IsDefined(typeof(OutputInit), d.OutputInit))
                Fail(DiagnosticDescriptors.UnknownEnumValue, d.Init?.At(d.Init.Output), nameof(InitAttribute.Output), (int)d.OutputInit, nameof(OutputInit));

            // --- real-valued arguments ---------------------------------------------------------------------
            Positive(nameof(NormAttribute.Eps), d.Eps, d.Norm?.At(d.Norm.Eps));
            Positive(nameof(NormAttribute.Alpha), d.AlphaOverride, d.Norm?.At(d.Norm.Alpha), allowZero: true);
            Positive(nameof(NormAttribute.Beta), d.BetaOverride, d.Norm?.At(d.Norm.Beta), allowZero: true);
            Positive(nameof(AttentionAttribute.RopeTheta), d.RopeTheta, d.Attention?.At(d.Attention.RopeTheta));
            Positive(nameof(InitAttribute.Std), d.Std, d.Init?.At(d.Init.Std));
            Positive(nameof(InitAttribute.EmbeddingStd), d.EmbeddingStd, d.Init?.At(d.Init.EmbeddingStd), allowZero: true);
            Positive(nameof(LayerScaleAttribute.Init), d.LayerScaleInit, d.LayerScale?.At(d.LayerScale.Init));
            Positive(nameof(NormAttribute.TanhAlpha), d.TanhAlpha, d.Norm?.At(d.Norm.TanhAlpha));
            Positive(nameof(NormAttribute.TanhAlphaMlp), d.TanhAlphaMlp, d.Norm?.At(d.Norm.TanhAlphaMlp), allowZero: true);
            Positive(nameof(NormAttribute.TanhAlphaFinal), d.TanhAlphaFinal, d.Norm?.At(d.Norm.TanhAlphaFinal), allowZero: true);
            Positive(nameof(NormAttribute.Kappa), d.Kappa, d.Norm?.At(d.Norm.Kappa));
            if (d.BaseLayers < 1 || d.BaseLayers > UpperBound(nameof(TransformerModelAttribute.Layers)))
                Fail(DiagnosticDescriptors.ValueOutOfRange, d.Residual?.At(d.Residual.BaseLayers), nameof(ResidualAttribute.BaseLayers), (double)d.BaseLayers, "it must be a depth in [1, 1024]");
            Positive(nameof(ResidualAttribute.GateInit), d.ResidualGateInit, d.Residual?.At(d.Residual.GateInit), allowZero: true, zero: "0 starts every block as the identity");
            Positive(nameof(TransformerModelAttribute.LogitSoftCap), d.LogitSoftCap, model.At(model.LogitSoftCap), allowZero: true, zero: "0 turns it off");
            Positive(nameof(AttentionAttribute.SoftCap), d.SoftCap, d.Attention?.At(d.Attention.SoftCap), allowZero: true, zero: "0 turns it off");
            Positive(nameof(AttentionAttribute.RopeFactor), d.RopeFactor, d.Attention?.At(d.Attention.RopeFactor));
            Positive(nameof(AttentionAttribute.RopeLowFreqFactor), d.RopeLowFreqFactor, d.Attention?.At(d.Attention.RopeLowFreqFactor));
            Positive(nameof(AttentionAttribute.RopeHighFreqFactor), d.RopeHighFreqFactor, d.Attention?.At(d.Attention.RopeHighFreqFactor));
            void Positive(string name, double value, LocationInfo? at, bool allowZero = false, string zero = "0 selects the default")
            {
                bool ok = !double.IsNaN(value) && !double.IsInfinity(value) && (allowZero ? value >= 0 : value > 0);
                if (!ok) Fail(DiagnosticDescriptors.ValueOutOfRange, at, name, value, allowZero ? $"it must be finite and >= 0 ({zero})" : "it must be finite and > 0");
            }

            // --- Llama 3 RoPE scaling's ramp -------------------------------------------------------------------
            if (d.RopeScaling == RopeScaling.Llama3 && d.RopeLowFreqFactor > 0 && d.RopeHighFreqFactor > 0 && d.RopeHighFreqFactor <= d.RopeLowFreqFactor)
                Fail(DiagnosticDescriptors.RopeFreqFactorsOutOfOrder, d.Attention?.RopeHighFreqFactor.Location ?? d.Attention?.At(d.Attention.RopeScaling),
                    d.RopeHighFreqFactor, d.RopeLowFreqFactor);

            // --- hyper-connections --------------------------------------------------------------------------------
            if (d.HyperConnections is { } hc)
            {
                if (d.HyperStreams < 2 || d.HyperStreams > 16)
                    Fail(DiagnosticDescriptors.ValueOutOfRange, hc.At(hc.Streams), nameof(HyperConnectionsAttribute.Streams), (double)d.HyperStreams, "it must be in [2, 16] (mHC uses 4)");
                string? why = d.Kind switch
                {
                    Kind.Post => "Kind.Post normalises the sum, N(x + F(x))",
                    Kind.Mix => "Kind.Mix's Post-LN blocks normalise the sum, N(x + F(x))",
                    Kind.DeepNorm => "Kind.DeepNorm scales the skip path by its alpha and normalises the sum, N(alpha x + F(x))",
                    Kind.Hybrid => "Kind.Hybrid normalises the stream between its two branches",
                    _ => d.NormType == NormType.CRmsNorm ? "NormType.CRmsNorm keeps the stream in Hidden - 1 coordinates" : null,
                };
                if (why is not null) Fail(DiagnosticDescriptors.HyperConnectionsNeedResidualAdds, hc.Location, why);
            }

            // --- the compressed stream (CRMSNorm) ----------------------------------------------------------------
            if (d.NormType == NormType.CRmsNorm)
            {
                string? why = d.Kind != Kind.Pre ? $"this model is Kind.{d.Kind}"
                    : d.EmbeddingNorm ? "EmbeddingNorm = true normalises the embedding before the stream"
                    : d.LayerScale is not null ? "[LayerScale] rescales each channel the branches write"
                    : d.TieEmbeddings ? "TieEmbeddings = true would make the head read the compressed embedding"
                    : null;
                if (why is not null) Fail(DiagnosticDescriptors.CompressedStreamNeedsPreLn, d.Norm?.At(d.Norm.Type), why);
            }

            // --- Mix-LN's split --------------------------------------------------------------------------------
            if (d.Kind == Kind.Mix && d.Layers > 0 && (d.PostLayers <= 0 || d.PostLayers >= d.Layers))
                Fail(DiagnosticDescriptors.MixPostLayersOutOfRange, d.Norm?.PostLayers.Location ?? d.Norm?.At(d.Norm.Kind), d.PostLayers, d.Layers, Math.Max(1, d.Layers / 4));

            return diagnostics.Count == count;
        }

        /// <summary>Sane upper bounds: far beyond any trained model, low enough that sizes multiply without overflow.</summary>
        private static int UpperBound(string size) => size switch
        {
            nameof(TransformerModelAttribute.Layers) => 1024,
            nameof(TransformerModelAttribute.Hidden) => 65536,
            nameof(TransformerModelAttribute.Heads) or nameof(TransformerModelAttribute.KvHeads) => 1024,
            nameof(TransformerModelAttribute.FeedForward) => 1 << 20,
            nameof(TransformerModelAttribute.Vocab) => 1 << 24,
            nameof(TransformerModelAttribute.MaxSeq) => 1 << 20,
            nameof(TransformerModelAttribute.HeadDim) => 65536,
            nameof(AttentionAttribute.QueryScaleDim) => 1 << 20,
            nameof(AttentionAttribute.RopeOriginalMaxSeq) => 1 << 24,
            _ => int.MaxValue,
        };
    }
}
