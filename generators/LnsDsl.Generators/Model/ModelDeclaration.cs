namespace LnsDsl.Generators.Model
{
    /// <summary>A type that encloses the model class (emitted as <c>partial</c> around it).</summary>
    internal sealed record ContainingType(string Keyword, string Name);

    /// <summary>The std of each projection of one block.</summary>
    internal sealed record InitStds(double Q, double K, double V, double O, double Gate, double Up, double Down);

    /// <summary>One resolved block. <see cref="Index"/> is the 1-based l.</summary>
    internal sealed record BlockDeclaration(int Index, Placement Placement, double NormScale, double ResidualAlpha, InitStds Init);

    /// <summary>
    /// Everything the emitter needs for one model, resolved (defaults applied, blocks laid out, parameters
    /// counted). Only strings, numbers, enums and equatable arrays: no symbols, syntax or compilation.
    /// </summary>
    internal sealed record ModelDeclaration
    {
        public string Namespace { get; init; } = "";
        public string ClassName { get; init; } = "";
        public EquatableArray<ContainingType> ContainingTypes { get; init; } = EquatableArray<ContainingType>.Empty;
        /// <summary>Whether <c>typeof(...)</c> of the class is legal in an assembly attribute (no private/protected nesting).</summary>
        public bool VisibleToAssembly { get; init; } = true;
        public int Layers { get; init; }
        public int Hidden { get; init; }
        public int Heads { get; init; }
        public int KvHeads { get; init; }
        public int HeadDim { get; init; }
        public int FeedForward { get; init; }
        public int Vocab { get; init; }
        public int MaxSeq { get; init; }
        public bool TieEmbeddings { get; init; }
        public Kind Norm { get; init; }
        public NormType NormType { get; init; }
        public ScaleRule Scale { get; init; }
        public double Eps { get; init; }
        public int PostLayers { get; init; }
        /// <summary>DeepNorm's residual multiplier, resolved (the user's, else <c>(2L)^(1/4)</c>); 1 for other kinds.</summary>
        public double Alpha { get; init; }
        /// <summary>DeepNorm's init gain, resolved (the user's, else <c>(8L)^(-1/4)</c>); 1 for other kinds.</summary>
        public double Beta { get; init; }
        public bool Rope { get; init; }
        public double RopeTheta { get; init; }
        public bool QkNorm { get; init; }
        public Activation Activation { get; init; }
        public double Std { get; init; }
        public double EmbeddingStd { get; init; }
        public OutputInit OutputInit { get; init; }
        public bool LayerScale { get; init; }
        public double LayerScaleInit { get; init; }
        public ResidualGate ResidualGate { get; init; }
        public ResidualRule ResidualRule { get; init; }
        /// <summary>The depth rule's base (1 where there is no rule).</summary>
        public int BaseLayers { get; init; } = 1;
        /// <summary>Every branch output times this: <c>(L / BaseLayers)^-a</c>; 1 without a rule.</summary>
        public double BranchMultiplier { get; init; } = 1.0;
        /// <summary>BHyT's kappa (0 for other norm types).</summary>
        public double Kappa { get; init; }
        /// <summary>HybridNorm: v is normalised per head inside attention, like q and k.</summary>
        public bool ValueNorm { get; init; }
        /// <summary>Hyper-connections: the number of residual streams (0: none).</summary>
        public int HyperStreams { get; init; }
        /// <summary>mHC's doubly stochastic mixing.</summary>
        public bool HyperManifold { get; init; }
        /// <summary>HybridNorm*: block 1 is Pre-LN.</summary>
        public bool FirstBlockPreNorm { get; init; }
        /// <summary>DyT's initial alphas by position (0 for other norm types).</summary>
        public double TanhAlpha { get; init; }
        public double TanhAlphaMlp { get; init; }
        public double TanhAlphaFinal { get; init; }
        /// <summary>0 where there is no gate.</summary>
        public double ResidualGateInit { get; init; }
        public bool EmbeddingNorm { get; init; }
        public bool ScaleEmbeddings { get; init; }
        /// <summary>0: off.</summary>
        public double LogitSoftCap { get; init; }
        public QkNormScope QkNormScope { get; init; }
        public bool QkvBias { get; init; }
        public bool OutputBias { get; init; }
        public bool MlpBias { get; init; }
        /// <summary>0: off.</summary>
        public double SoftCap { get; init; }
        /// <summary>0: the scores are scaled by HeadDim^-0.5 (a declared QueryScaleDim equal to HeadDim resolves to 0).</summary>
        public int QueryScaleDim { get; init; }
        /// <summary>None where there is no RoPE; the Rope* factors below keep their defaults where they do nothing.</summary>
        public RopeScaling RopeScaling { get; init; }
        public double RopeFactor { get; init; } = 1;
        public double RopeLowFreqFactor { get; init; } = 1;
        public double RopeHighFreqFactor { get; init; } = 4;
        public int RopeOriginalMaxSeq { get; init; } = 8192;

        /// <summary>Whether attention is written out (scores, cap, mask, fp32 softmax) instead of scaled_dot_product_attention.</summary>
        public bool ExplicitAttention => Attentions.Explicit(SoftCap, QueryScaleDim);
        public long ParameterCount { get; init; }
        public EquatableArray<BlockDeclaration> Blocks { get; init; } = EquatableArray<BlockDeclaration>.Empty;

        public string FullyQualifiedName
        {
            get
            {
                var prefix = Namespace.Length == 0 ? "global::" : "global::" + Namespace + ".";
                foreach (var t in ContainingTypes) prefix += t.Name + ".";
                return prefix + ClassName;
            }
        }
    }

    /// <summary>What the parse step yields for one annotated class: the model (null when it cannot be generated) and diagnostics.</summary>
    internal sealed record ParseResult(ModelDeclaration? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
