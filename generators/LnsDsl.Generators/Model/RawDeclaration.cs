namespace LnsDsl.Generators.Model
{
    /// <summary>
    /// One attribute argument as the user wrote it. <see cref="IsGiven"/>: written as a named argument, or a
    /// parameter of the constructor used. <see cref="Value"/>: its constant, null where not given or not a
    /// constant (<see cref="IsInvalid"/>). <see cref="Location"/>: the argument's syntax, null where not written.
    /// </summary>
    internal readonly record struct Argument<T>(bool IsGiven, T? Value, bool IsInvalid, LocationInfo? Location)
        where T : struct
    {
        /// <summary>The value, else <paramref name="fallback"/> (the attribute's default).</summary>
        public T Or(T fallback) => Value ?? fallback;
    }

    /// <summary>An argument the compiler could not bind to a constant, by its property name.</summary>
    internal sealed record InvalidArgument(string Name, LocationInfo? Location);

    /// <summary>A type that encloses the model class, as declared.</summary>
    /// <param name="Location">The identifier of its first declaration.</param>
    internal sealed record RawContainingType(string Keyword, string Name, bool IsPartial, LocationInfo? Location);

    /// <summary>A DSL attribute applied more than once: its short name ("Norm") and its second application.</summary>
    internal sealed record DuplicateAttribute(string Name, LocationInfo? Location);

    /// <summary>What every DSL attribute has: where it is applied and the arguments that are not constants.</summary>
    internal abstract record RawAttribute
    {
        /// <summary>The whole attribute.</summary>
        public LocationInfo? Location { get; init; }
        public EquatableArray<InvalidArgument> InvalidArguments { get; init; } = EquatableArray<InvalidArgument>.Empty;

        /// <summary>Where to report about <paramref name="argument"/>: the argument, else the whole attribute.</summary>
        public LocationInfo? At<T>(Argument<T> argument) where T : struct => argument.Location ?? Location;
    }

    /// <summary>The arguments of <see cref="TransformerModelAttribute"/>.</summary>
    internal sealed record RawTransformerModel : RawAttribute
    {
        public Argument<int> Layers { get; init; }
        public Argument<int> Hidden { get; init; }
        public Argument<int> Heads { get; init; }
        public Argument<int> FeedForward { get; init; }
        public Argument<int> Vocab { get; init; }
        /// <summary>0 (the default) means "= Heads".</summary>
        public Argument<int> KvHeads { get; init; }
        public Argument<int> MaxSeq { get; init; }
        public Argument<bool> TieEmbeddings { get; init; }
        /// <summary>0 (the default) means "= Hidden / Heads".</summary>
        public Argument<int> HeadDim { get; init; }
        public Argument<bool> ScaleEmbeddings { get; init; }
        public Argument<double> LogitSoftCap { get; init; }
    }

    /// <summary>The arguments of <see cref="NormAttribute"/>.</summary>
    internal sealed record RawNorm : RawAttribute
    {
        public Argument<Kind> Kind { get; init; }
        public Argument<ScaleRule> Scale { get; init; }
        public Argument<NormType> Type { get; init; }
        public Argument<double> Eps { get; init; }
        public Argument<int> PostLayers { get; init; }
        /// <summary>The user's DeepNorm alpha; 0 (the default) selects <c>(2L)^(1/4)</c>.</summary>
        public Argument<double> Alpha { get; init; }
        /// <summary>The user's DeepNorm beta; 0 (the default) selects <c>(8L)^(-1/4)</c>.</summary>
        public Argument<double> Beta { get; init; }
        /// <summary>Not given: true for Peri-LN, false otherwise.</summary>
        public Argument<bool> EmbeddingNorm { get; init; }
        public Argument<double> TanhAlpha { get; init; }
        public Argument<double> TanhAlphaMlp { get; init; }
        public Argument<double> TanhAlphaFinal { get; init; }
        public Argument<double> Kappa { get; init; }
        public Argument<bool> FirstBlockPreNorm { get; init; }
    }

    /// <summary>The arguments of <see cref="AttentionAttribute"/>.</summary>
    internal sealed record RawAttention : RawAttribute
    {
        public Argument<bool> Rope { get; init; }
        public Argument<double> RopeTheta { get; init; }
        public Argument<bool> QkNorm { get; init; }
        public Argument<QkNormScope> QkNormScope { get; init; }
        public Argument<bool> QkvBias { get; init; }
        public Argument<bool> OutputBias { get; init; }
        public Argument<double> SoftCap { get; init; }
        public Argument<int> QueryScaleDim { get; init; }
        public Argument<RopeScaling> RopeScaling { get; init; }
        public Argument<double> RopeFactor { get; init; }
        public Argument<double> RopeLowFreqFactor { get; init; }
        public Argument<double> RopeHighFreqFactor { get; init; }
        public Argument<int> RopeOriginalMaxSeq { get; init; }
    }

    /// <summary>The arguments of <see cref="FeedForwardAttribute"/>.</summary>
    internal sealed record RawFeedForward : RawAttribute
    {
        public Argument<Activation> Activation { get; init; }
        public Argument<bool> Bias { get; init; }
    }

    /// <summary>The arguments of <see cref="InitAttribute"/>.</summary>
    internal sealed record RawInit : RawAttribute
    {
        public Argument<double> Std { get; init; }
        public Argument<double> EmbeddingStd { get; init; }
        public Argument<OutputInit> Output { get; init; }
    }

    /// <summary>The arguments of <see cref="LayerScaleAttribute"/>.</summary>
    internal sealed record RawLayerScale : RawAttribute
    {
        public Argument<double> Init { get; init; }
    }

    /// <summary>The arguments of <see cref="HyperConnectionsAttribute"/>.</summary>
    internal sealed record RawHyperConnections : RawAttribute
    {
        public Argument<int> Streams { get; init; }
        public Argument<bool> Manifold { get; init; }
    }

    /// <summary>The arguments of <see cref="ResidualAttribute"/>.</summary>
    internal sealed record RawResidual : RawAttribute
    {
        public Argument<ResidualGate> Gate { get; init; }
        public Argument<double> GateInit { get; init; }
        public Argument<ResidualRule> Rule { get; init; }
        public Argument<int> BaseLayers { get; init; }
    }

    /// <summary>
    /// Exactly what the user declared on one model class: the class's shape, and each DSL attribute with the
    /// arguments it was given (null where the attribute is absent). Nothing is validated or resolved yet.
    /// Below the stored facts, the values in effect: the user's argument, else the attribute's own default
    /// (read from the attribute class, so that the two never disagree). Plain data, no symbols or syntax.
    /// </summary>
    internal sealed record RawDeclaration
    {
        public string Namespace { get; init; } = "";
        public string ClassName { get; init; } = "";
        /// <summary>The class's identifier (where class-level diagnostics go).</summary>
        public LocationInfo? NameLocation { get; init; }
        public bool IsPartial { get; init; }
        /// <summary>The class or a type containing it is generic.</summary>
        public bool IsGeneric { get; init; }
        /// <summary>Outermost first.</summary>
        public EquatableArray<RawContainingType> ContainingTypes { get; init; } = EquatableArray<RawContainingType>.Empty;
        /// <summary>Whether <c>typeof(...)</c> of the class is legal in an assembly attribute (no private/protected nesting).</summary>
        public bool VisibleToAssembly { get; init; } = true;
        /// <summary>The declared base class (other than object), as displayed; null where none.</summary>
        public string? BaseClass { get; init; }
        /// <summary>The first type of the base list.</summary>
        public LocationInfo? BaseClassLocation { get; init; }
        /// <summary>The DSL attributes applied more than once.</summary>
        public EquatableArray<DuplicateAttribute> Duplicates { get; init; } = EquatableArray<DuplicateAttribute>.Empty;

        public RawTransformerModel Model { get; init; } = new();
        public RawNorm? Norm { get; init; }
        public RawAttention? Attention { get; init; }
        public RawFeedForward? FeedForward { get; init; }
        public RawInit? Init { get; init; }
        public RawLayerScale? LayerScale { get; init; }
        public RawResidual? Residual { get; init; }
        public RawHyperConnections? HyperConnections { get; init; }

        /// <summary>Every attribute present, [TransformerModel] first, then in the DSL's order.</summary>
        public System.Collections.Generic.IEnumerable<RawAttribute> Attributes
        {
            get
            {
                yield return Model;
                if (Norm is not null) yield return Norm;
                if (Attention is not null) yield return Attention;
                if (FeedForward is not null) yield return FeedForward;
                if (Init is not null) yield return Init;
                if (LayerScale is not null) yield return LayerScale;
                if (Residual is not null) yield return Residual;
                if (HyperConnections is not null) yield return HyperConnections;
            }
        }

        // --- the values in effect (the user's, else the attribute's default) ---------------------------------
        private static readonly TransformerModelAttribute ModelDefaults = new();
        private static readonly NormAttribute NormDefaults = new(default);
        private static readonly AttentionAttribute AttentionDefaults = new();
        private static readonly FeedForwardAttribute FeedForwardDefaults = new();
        private static readonly InitAttribute InitDefaults = new();
        private static readonly LayerScaleAttribute LayerScaleDefaults = new();
        private static readonly ResidualAttribute ResidualDefaults = new();
        private static readonly HyperConnectionsAttribute HyperDefaults = new();

        public int Layers => Model.Layers.Or(ModelDefaults.Layers);
        public int Hidden => Model.Hidden.Or(ModelDefaults.Hidden);
        public int Heads => Model.Heads.Or(ModelDefaults.Heads);
        public int FeedForwardSize => Model.FeedForward.Or(ModelDefaults.FeedForward);
        public int Vocab => Model.Vocab.Or(ModelDefaults.Vocab);
        /// <summary>The key/value heads in effect: KvHeads where given non-zero, else Heads.</summary>
        public int KvHeads => Model.KvHeads.Or(ModelDefaults.KvHeads) is var kv && kv != 0 ? kv : Heads;
        /// <summary>The user's HeadDim, 0 where none (then <see cref="HeadDim"/> is Hidden / Heads).</summary>
        public int HeadDimOverride => Model.HeadDim.Or(ModelDefaults.HeadDim);
        /// <summary>The explicit HeadDim where given non-zero, else Hidden / Heads where that is a positive integer, else 0.</summary>
        public int HeadDim => HeadDimOverride != 0 ? HeadDimOverride : Heads > 0 && Hidden > 0 && Hidden % Heads == 0 ? Hidden / Heads : 0;
        public bool ScaleEmbeddings => Model.ScaleEmbeddings.Or(ModelDefaults.ScaleEmbeddings);
        public double LogitSoftCap => Model.LogitSoftCap.Or(ModelDefaults.LogitSoftCap);
        public int MaxSeq => Model.MaxSeq.Or(ModelDefaults.MaxSeq);
        public bool TieEmbeddings => Model.TieEmbeddings.Or(ModelDefaults.TieEmbeddings);

        public Kind Kind => Norm?.Kind.Or(NormDefaults.Kind) ?? NormDefaults.Kind;
        public ScaleRule Scale => Norm?.Scale.Or(NormDefaults.Scale) ?? NormDefaults.Scale;
        public NormType NormType => Norm?.Type.Or(NormDefaults.Type) ?? NormDefaults.Type;
        public double Eps => Norm?.Eps.Or(NormDefaults.Eps) ?? NormDefaults.Eps;
        public int PostLayers => Norm?.PostLayers.Or(NormDefaults.PostLayers) ?? NormDefaults.PostLayers;
        /// <summary>The user's DeepNorm alpha, 0 where none (not the resolved <see cref="ModelDeclaration.Alpha"/>).</summary>
        public double AlphaOverride => Norm?.Alpha.Or(NormDefaults.Alpha) ?? NormDefaults.Alpha;
        /// <summary>The user's DeepNorm beta, 0 where none (not the resolved <see cref="ModelDeclaration.Beta"/>).</summary>
        public double BetaOverride => Norm?.Beta.Or(NormDefaults.Beta) ?? NormDefaults.Beta;
        /// <summary>The user's EmbeddingNorm where given, else true for Peri-LN only.</summary>
        public bool EmbeddingNorm => Norm is { EmbeddingNorm.IsGiven: true } n ? n.EmbeddingNorm.Or(false) : Kind == Kind.Peri;
        public double TanhAlpha => Norm?.TanhAlpha.Or(NormDefaults.TanhAlpha) ?? NormDefaults.TanhAlpha;
        /// <summary>The user's MLP-position alpha, 0 where none (resolved to <see cref="TanhAlpha"/>).</summary>
        public double TanhAlphaMlp => Norm?.TanhAlphaMlp.Or(NormDefaults.TanhAlphaMlp) ?? NormDefaults.TanhAlphaMlp;
        /// <summary>The user's final-norm alpha, 0 where none (resolved to the MLP position's).</summary>
        public double TanhAlphaFinal => Norm?.TanhAlphaFinal.Or(NormDefaults.TanhAlphaFinal) ?? NormDefaults.TanhAlphaFinal;
        /// <summary>Whether the user gave the attention-position alpha (BHyT's default differs from DyT's).</summary>
        public bool TanhAlphaGiven => Norm is { TanhAlpha.IsGiven: true };
        public double Kappa => Norm?.Kappa.Or(NormDefaults.Kappa) ?? NormDefaults.Kappa;
        public bool FirstBlockPreNorm => Norm?.FirstBlockPreNorm.Or(NormDefaults.FirstBlockPreNorm) ?? NormDefaults.FirstBlockPreNorm;

        public bool Rope => Attention?.Rope.Or(AttentionDefaults.Rope) ?? AttentionDefaults.Rope;
        public double RopeTheta => Attention?.RopeTheta.Or(AttentionDefaults.RopeTheta) ?? AttentionDefaults.RopeTheta;
        public bool QkNorm => Attention?.QkNorm.Or(AttentionDefaults.QkNorm) ?? AttentionDefaults.QkNorm;
        public QkNormScope QkNormScope => Attention?.QkNormScope.Or(AttentionDefaults.QkNormScope) ?? AttentionDefaults.QkNormScope;
        public bool QkvBias => Attention?.QkvBias.Or(AttentionDefaults.QkvBias) ?? AttentionDefaults.QkvBias;
        public bool OutputBias => Attention?.OutputBias.Or(AttentionDefaults.OutputBias) ?? AttentionDefaults.OutputBias;
        public double SoftCap => Attention?.SoftCap.Or(AttentionDefaults.SoftCap) ?? AttentionDefaults.SoftCap;
        public int QueryScaleDim => Attention?.QueryScaleDim.Or(AttentionDefaults.QueryScaleDim) ?? AttentionDefaults.QueryScaleDim;
        public RopeScaling RopeScaling => Attention?.RopeScaling.Or(AttentionDefaults.RopeScaling) ?? AttentionDefaults.RopeScaling;
        public double RopeFactor => Attention?.RopeFactor.Or(AttentionDefaults.RopeFactor) ?? AttentionDefaults.RopeFactor;
        public double RopeLowFreqFactor => Attention?.RopeLowFreqFactor.Or(AttentionDefaults.RopeLowFreqFactor) ?? AttentionDefaults.RopeLowFreqFactor;
        public double RopeHighFreqFactor => Attention?.RopeHighFreqFactor.Or(AttentionDefaults.RopeHighFreqFactor) ?? AttentionDefaults.RopeHighFreqFactor;
        public int RopeOriginalMaxSeq => Attention?.RopeOriginalMaxSeq.Or(AttentionDefaults.RopeOriginalMaxSeq) ?? AttentionDefaults.RopeOriginalMaxSeq;

        public Activation Activation => FeedForward?.Activation.Or(FeedForwardDefaults.Activation) ?? FeedForwardDefaults.Activation;
        public bool MlpBias => FeedForward?.Bias.Or(FeedForwardDefaults.Bias) ?? FeedForwardDefaults.Bias;

        public double Std => Init?.Std.Or(InitDefaults.Std) ?? InitDefaults.Std;
        /// <summary>The user's embedding std, 0 where none (resolved to <see cref="Std"/>).</summary>
        public double EmbeddingStd => Init?.EmbeddingStd.Or(InitDefaults.EmbeddingStd) ?? InitDefaults.EmbeddingStd;
        public OutputInit OutputInit => Init?.Output.Or(InitDefaults.Output) ?? InitDefaults.Output;
        /// <summary>Output projections initialised with a depth-dependent std (Std / sqrt(2L) or Std / sqrt(2l)).</summary>
        public bool ScaledInit => OutputInit is OutputInit.ScaledByDepth or OutputInit.ScaledByLayer;

        public double LayerScaleInit => LayerScale?.Init.Or(LayerScaleDefaults.Init) ?? LayerScaleDefaults.Init;

        public ResidualGate ResidualGate => Residual?.Gate.Or(ResidualDefaults.Gate) ?? ResidualDefaults.Gate;
        public double ResidualGateInit => Residual?.GateInit.Or(ResidualDefaults.GateInit) ?? ResidualDefaults.GateInit;
        /// <summary>The number of streams, 0 without [HyperConnections].</summary>
        public int HyperStreams => HyperConnections is null ? 0 : HyperConnections.Streams.Or(HyperDefaults.Streams);
        public bool HyperManifold => HyperConnections is not null && HyperConnections.Manifold.Or(HyperDefaults.Manifold);
        public ResidualRule ResidualRule => Residual?.Rule.Or(ResidualDefaults.Rule) ?? ResidualDefaults.Rule;
        public int BaseLayers => Residual?.BaseLayers.Or(ResidualDefaults.BaseLayers) ?? ResidualDefaults.BaseLayers;
    }
}
