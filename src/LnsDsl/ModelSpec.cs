using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace LnsDsl
{
    /// <summary>Standard deviations the initialisation draws each projection of one block from.</summary>
    public sealed record InitStds(double Q, double K, double V, double O, double Gate, double Up, double Down);

    /// <summary>One resolved decoder block.</summary>
    /// <param name="Index">1-based block index l.</param>
    /// <param name="Placement">Norm placement of this block.</param>
    /// <param name="NormScale">Factor applied to the output of this block's pre-norms (1 where there are none).</param>
    /// <param name="ResidualAlpha">Multiplier of the residual stream (DeepNorm's alpha; 1 otherwise).</param>
    /// <param name="Init">Initialisation std of each projection.</param>
    public sealed record BlockSpec(int Index, Placement Placement, double NormScale, double ResidualAlpha, InitStds Init);

    /// <summary>
    /// The resolved architecture of a generated model: every hyper-parameter after defaults, each block's
    /// placement, scale factor and init std, and the parameter count. Emitted as a static literal by the
    /// generator (<c>MyModel.Spec</c>), read by the runner and the analysis.
    /// </summary>
    public sealed record ModelSpec
    {
        public required string Name { get; init; }
        public required string FullName { get; init; }
        public required int Layers { get; init; }
        public required int Hidden { get; init; }
        public required int Heads { get; init; }
        public required int KvHeads { get; init; }
        public required int HeadDim { get; init; }
        public required int FeedForward { get; init; }
        public required int Vocab { get; init; }
        public required int MaxSeq { get; init; }
        public required bool TieEmbeddings { get; init; }
        public required Kind Norm { get; init; }
        public required NormType NormType { get; init; }
        public required ScaleRule Scale { get; init; }
        public required double Eps { get; init; }
        /// <summary>Mix-LN: number of leading Post-LN blocks (0 otherwise).</summary>
        public required int PostLayers { get; init; }
        /// <summary>DeepNorm residual multiplier (1 otherwise).</summary>
        public required double Alpha { get; init; }
        /// <summary>DeepNorm init gain (1 otherwise).</summary>
        public required double Beta { get; init; }
        public required bool Rope { get; init; }
        public required double RopeTheta { get; init; }
        public required bool QkNorm { get; init; }
        public required Activation Activation { get; init; }
        public required double Std { get; init; }
        public required double EmbeddingStd { get; init; }
        public required OutputInit OutputInit { get; init; }
        public required bool LayerScale { get; init; }
        public required double LayerScaleInit { get; init; }
        /// <summary>Peri-LN also normalises the embedding output (<c>embed_norm</c>).</summary>
        public required bool EmbeddingNorm { get; init; }
        public required long ParameterCount { get; init; }
        public required IReadOnlyList<BlockSpec> Blocks { get; init; }

        /// <summary>Short human label of the placement and scale, e.g. "Pre-LN + LNS" (<see cref="Placements.Label(Kind, ScaleRule, int, bool, bool)"/>).</summary>
        public string PlacementLabel => Placements.Label(Norm, Scale, PostLayers, LayerScale);

        /// <summary>A multi-line, human-readable description (used by <c>lnsrun</c> and in logs).</summary>
        public string Describe()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "{0}: {1} blocks x {2} wide, {3} heads ({4} kv, head {5}), FFN {6} {7}, vocab {8}, {9:N0} parameters",
                Name, Layers, Hidden, Heads, KvHeads, HeadDim, FeedForward, Activation, Vocab, ParameterCount));
            sb.AppendLine(string.Format(c, "  norm: {0}, {1}, eps {2:R}; init std {3:R}, embedding std {4:R}, output {5}",
                PlacementLabel, NormType, Eps, Std, EmbeddingStd, OutputInit));
            foreach (var b in Blocks)
                sb.AppendLine(string.Format(c, "  block {0,3}: {1,-8} norm scale {2:0.######}  alpha {3:0.####}  std o {4:0.######} down {5:0.######}",
                    b.Index, b.Placement, b.NormScale, b.ResidualAlpha, b.Init.O, b.Init.Down));
            return sb.ToString();
        }
    }
}
