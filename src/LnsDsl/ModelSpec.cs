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
        /// <summary>The embedding output is normalised (<c>embed_norm</c>): Peri-LN's default.</summary>
        public required bool EmbeddingNorm { get; init; }

        // The vocabulary of imported checkpoints (Llama, Mistral, Qwen2/3, Gemma-2, OLMo-2). Not `required`: each
        // defaults to "off" and the generated spec sets it only where it is on, so that a model that uses none of them
        // is emitted exactly as before.

        /// <summary>The embedding output is multiplied by <c>sqrt(Hidden)</c>, rounded to the activation dtype (Gemma).</summary>
        public bool ScaleEmbeddings { get; init; }
        /// <summary>Final logits soft-capped: <c>tanh(z / cap) * cap</c>; 0 = off (Gemma-2).</summary>
        public double LogitSoftCap { get; init; }
        /// <summary>What the QK norm normalises (with <see cref="QkNorm"/>): each head, or the whole q and k projections (OLMo-2).</summary>
        public QkNormScope QkNormScope { get; init; }
        /// <summary><c>qkv_proj.bias</c> (Qwen2; Llama's <c>attention_bias</c>).</summary>
        public bool QkvBias { get; init; }
        /// <summary><c>o_proj.bias</c> (Llama's <c>attention_bias</c>).</summary>
        public bool OutputBias { get; init; }
        /// <summary>Biases on the MLP projections (<c>gate_up_proj</c>/<c>up_proj</c> and <c>down_proj</c>).</summary>
        public bool MlpBias { get; init; }
        /// <summary>Attention scores soft-capped: <c>tanh(s / cap) * cap</c> before the mask; 0 = off (Gemma-2).</summary>
        public double SoftCap { get; init; }
        /// <summary>Scores scaled by <c>QueryScaleDim^-0.5</c>; 0 = <c>HeadDim^-0.5</c> (Gemma-2's <c>query_pre_attn_scalar</c>).</summary>
        public int QueryScaleDim { get; init; }
        /// <summary>Scaling of the rotary frequencies (Hugging Face's <c>rope_scaling</c>).</summary>
        public RopeScaling RopeScaling { get; init; }
        /// <summary>Linear and Llama3: the factor the (low) frequencies are divided by.</summary>
        public double RopeFactor { get; init; } = 1;
        /// <summary>Llama3: <c>low_freq_factor</c>.</summary>
        public double RopeLowFreqFactor { get; init; } = 1;
        /// <summary>Llama3: <c>high_freq_factor</c>.</summary>
        public double RopeHighFreqFactor { get; init; } = 4;
        /// <summary>Llama3: <c>original_max_position_embeddings</c>.</summary>
        public int RopeOriginalMaxSeq { get; init; } = 8192;

        public required long ParameterCount { get; init; }
        public required IReadOnlyList<BlockSpec> Blocks { get; init; }

        /// <summary>Short human label of the placement and scale, e.g. "Pre-LN + LNS" (<see cref="Placements.Label(Kind, ScaleRule, int, bool, bool)"/>).</summary>
        public string PlacementLabel => Placements.Label(Norm, Scale, PostLayers, LayerScale, gate: ResidualGate, rule: ResidualRule, firstBlockPreNorm: FirstBlockPreNorm, hyperStreams: HyperStreams, manifold: HyperManifold);

        /// <summary>DyT's initial alpha (BHyT's lambda) at the attention position (0 for other norm types and earlier checkpoints).</summary>
        public double TanhAlpha { get; init; }
        /// <summary>DyT's initial alpha (BHyT's lambda) at the MLP position.</summary>
        public double TanhAlphaMlp { get; init; }
        /// <summary>DyT's initial alpha (BHyT's lambda) of the final (and embedding) norm.</summary>
        public double TanhAlphaFinal { get; init; }
        /// <summary>BHyT's kappa (0 for other norm types).</summary>
        public double Kappa { get; init; }

        /// <summary>HybridNorm: v normalised per head inside attention, like q and k (<c>self_attn.v_norm</c>).</summary>
        public bool ValueNorm { get; init; }
        /// <summary>HybridNorm*: block 1 is Pre-LN (recorded so that the declaration can be written back).</summary>
        public bool FirstBlockPreNorm { get; init; }

        /// <summary>Hyper-connections: the number of residual streams (0: one plain stream).</summary>
        public int HyperStreams { get; init; }
        /// <summary>mHC: the streams' mixing kept doubly stochastic (Sinkhorn).</summary>
        public bool HyperManifold { get; init; }

        /// <summary>A depth rule for the residual branches (Depth-muP, CompleteP); <see cref="ResidualRule.None"/> for earlier checkpoints.</summary>
        public ResidualRule ResidualRule { get; init; }
        /// <summary>The depth rule's base depth (1 without a rule).</summary>
        public int BaseLayers { get; init; } = 1;
        /// <summary>Every residual branch output times this: <c>(Layers / BaseLayers)^-a</c> (<see cref="Placements.BranchMultiplier"/>); 1 without a rule.</summary>
        public double BranchMultiplier => Placements.BranchMultiplier(ResidualRule, Layers, BaseLayers);
        /// <summary>The learning-rate factor of the blocks' parameters under the depth rule (1 without one).</summary>
        public double BlockLrScale => Placements.BlockLrScale(ResidualRule, Layers, BaseLayers);
        /// <summary>The AdamW eps factor of the blocks' parameters under the depth rule (1 without one).</summary>
        public double BlockEpsScale => Placements.BlockEpsScale(ResidualRule, Layers, BaseLayers);

        /// <summary>The block program of <paramref name="placement"/> in this model (its LayerScale, gate and branch multiplier).</summary>
        public BlockProgram ProgramOf(Placement placement) => BlockPrograms.For(placement, LayerScale, ResidualGate, BranchMultiplier, HyperStreams > 0);

        /// <summary>The residual branches' gate (ReZero, SkipInit); <see cref="ResidualGate.None"/> for earlier checkpoints.</summary>
        public ResidualGate ResidualGate { get; init; }
        /// <summary>The gates' initial value (0: every block starts as the identity).</summary>
        public double ResidualGateInit { get; init; }

        /// <summary>The options other than the defaults, in words (the imported checkpoints' vocabulary), e.g. "qkv bias", "attention soft-cap 50".</summary>
        public IReadOnlyList<string> Options()
        {
            var c = CultureInfo.InvariantCulture;
            var list = new List<string>();
            if (QkNorm) list.Add(QkNormScope == QkNormScope.Projection ? "QK norm over the projections" : "QK norm per head");
            if (QkvBias) list.Add("qkv bias");
            if (OutputBias) list.Add("o_proj bias");
            if (MlpBias) list.Add("MLP bias");
            if (SoftCap > 0) list.Add(string.Format(c, "attention soft-cap {0:R}", SoftCap));
            if (QueryScaleDim != 0) list.Add(string.Format(c, "score scale {0}^-0.5", QueryScaleDim));
            if (RopeScaling == RopeScaling.Linear) list.Add(string.Format(c, "linear RoPE scaling x{0:R}", RopeFactor));
            if (RopeScaling == RopeScaling.Llama3)
                list.Add(string.Format(c, "Llama3 RoPE scaling x{0:R} (low {1:R}, high {2:R}, original {3})", RopeFactor, RopeLowFreqFactor, RopeHighFreqFactor, RopeOriginalMaxSeq));
            if (ScaleEmbeddings) list.Add("embeddings x sqrt(Hidden)");
            if (EmbeddingNorm && Norm != Kind.Peri) list.Add("embedding norm");
            if (!EmbeddingNorm && Norm == Kind.Peri) list.Add("no embedding norm");
            if (LogitSoftCap > 0) list.Add(string.Format(c, "logit soft-cap {0:R}", LogitSoftCap));
            return list;
        }

        /// <summary>A multi-line, human-readable description (used by <c>lnsrun</c> and in logs).</summary>
        public string Describe()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "{0}: {1} blocks x {2} wide, {3} heads ({4} kv, head {5}), FFN {6} {7}, vocab {8}, {9:N0} parameters",
                Name, Layers, Hidden, Heads, KvHeads, HeadDim, FeedForward, Activation, Vocab, ParameterCount));
            sb.AppendLine(string.Format(c, "  norm: {0}, {1}, eps {2:R}; init std {3:R}, embedding std {4:R}, output {5}",
                PlacementLabel, NormType, Eps, Std, EmbeddingStd, OutputInit));
            var options = Options();
            if (options.Count > 0) sb.AppendLine("  options: " + string.Join(", ", options));
            foreach (var b in Blocks)
                sb.AppendLine(string.Format(c, "  block {0,3}: {1,-8} norm scale {2:0.######}  alpha {3:0.####}  std o {4:0.######} down {5:0.######}",
                    b.Index, b.Placement, b.NormScale, b.ResidualAlpha, b.Init.O, b.Init.Down));
            sb.Append(Programs());
            return sb.ToString();
        }

        /// <summary>
        /// What each distinct block computes: its <see cref="BlockProgram"/> as equations (the description the generated
        /// code and model.py are rendered from), the norms it applies with the model's norm type, the blocks it covers and
        /// their factors.
        /// </summary>
        public string Programs()
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            foreach (var group in Blocks.GroupBy(b => b.Placement).OrderBy(g => g.Key))
            {
                var program = ProgramOf(group.Key);
                var blocks = group.ToList();
                string range = blocks.Count == 1 ? $"block {blocks[0].Index}" : $"blocks {blocks[0].Index}..{blocks[^1].Index}" + (blocks[^1].Index - blocks[0].Index + 1 == blocks.Count ? "" : " (some)");
                sb.AppendLine($"  {program.Label} ({range}), N = {Norms.Label(NormType)} over [{string.Join(", ", program.Norms)}]:");
                foreach (var equation in program.Equations()) sb.AppendLine("    " + equation);
                if (program.UsesScale)
                    sb.AppendLine("    s = " + string.Join(", ", blocks.Select(b => string.Format(c, "{0:0.####}", b.NormScale))) + ScaleText());
                if (program.UsesAlpha) sb.AppendLine(string.Format(c, "    alpha = {0:R}", blocks[0].ResidualAlpha));
                if (LayerScale) sb.AppendLine(string.Format(c, "    g_attn, g_mlp: learned per-channel gains (LayerScale), initialised to {0:R}", LayerScaleInit));
                if (ResidualGate == ResidualGate.Scalar) sb.AppendLine(string.Format(c, "    r_attn, r_mlp: learned scalar residual gates, initialised to {0:R}", ResidualGateInit));
                if (ResidualRule != ResidualRule.None)
                    sb.AppendLine(string.Format(c, "    {0:R} = (L / BaseLayers)^-{1:R} = ({2} / {3})^-{1:R}: {4}'s branch multiplier; lnsrun train: block learning rates x {5:R}, block AdamW eps x {6:R}",
                        BranchMultiplier, Placements.RuleExponent(ResidualRule), Layers, BaseLayers, ResidualRule, BlockLrScale, BlockEpsScale));
                if (HyperStreams > 0)
                    sb.AppendLine(string.Format(c, "    x: {0} residual streams [{0} x {1}] (the embedding copied into each, summed for the head); mHC_attn, mHC_mlp: H_pre = sigmoid(.), H_post = 2 sigmoid(.), H_res = {2} from the RMS-normalised streams",
                        HyperStreams, Hidden, HyperManifold ? $"Sinkhorn(exp(.)) ({HyperConnections.SinkhornIterations} iterations, doubly stochastic)" : "unconstrained"));
                if (ValueNorm) sb.AppendLine("    Attn normalises q, k and v per head (q_norm, k_norm, v_norm) before RoPE and the scores");
            }
            return sb.ToString();
        }

        private string ScaleText() => Scale switch
        {
            ScaleRule.InvSqrtDepth => " (LNS: 1/sqrt(l))",
            ScaleRule.InvDepth => " (1/l)",
            _ => " (no depth scaling)",
        };
    }
}
