using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace LnsDsl.Compilation
{
    /// <summary>
    /// The LnsDsl declaration of a resolved architecture: the attributes that make the generator produce a model
    /// whose <see cref="ModelSpec"/> equals <paramref name="spec"/> field by field (names aside). A checkpoint stores its
    /// spec, so a model whose class is not in this process (a converted checkpoint, a model declared in another
    /// project) is instantiated by compiling this declaration (<see cref="ModelCompiler"/>, <see cref="CheckpointModels"/>).
    /// </summary>
    public static class SpecDeclaration
    {
        public const string Namespace = "LnsDsl.Restored";

        /// <summary>The C# source of a file declaring <paramref name="className"/> with <paramref name="spec"/>'s architecture.</summary>
        public static string Source(ModelSpec spec, string className, string? origin = null)
            => File($"{spec.Layers} blocks x {spec.Hidden}, {spec.PlacementLabel}, {Norms.Label(spec.NormType)}{(origin is null ? "" : ", from " + origin)}: an LnsDsl declaration of a stored architecture.",
                Namespace, new[] { (Attributes(spec), className) });

        /// <summary>One file declaring several architectures (one compilation for all of them) in <paramref name="ns"/>.</summary>
        public static string Source(IEnumerable<(ModelSpec Spec, string ClassName)> models, string comment, string ns = Namespace)
            => File(comment, ns, models.Select(m => (Attributes(m.Spec), m.ClassName)));

        /// <summary>A C# file declaring each class with its attributes (one per line) in <paramref name="ns"/>, under a
        /// one-line comment.</summary>
        public static string File(string comment, string ns, IEnumerable<(IReadOnlyList<string> Attributes, string ClassName)> classes)
        {
            var sb = new StringBuilder();
            sb.AppendLine("// " + comment);
            sb.AppendLine("using LnsDsl;");
            sb.AppendLine();
            sb.AppendLine($"namespace {ns}");
            sb.AppendLine("{");
            foreach (var (attributes, className) in classes)
            {
                foreach (var attribute in attributes)
                    sb.AppendLine("    " + attribute);
                sb.AppendLine($"    public partial class {className} {{ }}");
            }
            sb.AppendLine("}");
            return sb.ToString();
        }

        /// <summary>The attributes, one per line.</summary>
        public static IReadOnlyList<string> Attributes(ModelSpec s)
        {
            var model = new List<string>
            {
                $"Layers = {s.Layers}", $"Hidden = {s.Hidden}", $"Heads = {s.Heads}", $"FeedForward = {s.FeedForward}", $"Vocab = {s.Vocab}",
                $"KvHeads = {s.KvHeads}", $"MaxSeq = {s.MaxSeq}",
            };
            if (s.TieEmbeddings) model.Add("TieEmbeddings = true");
            if (s.HeadDim * s.Heads != s.Hidden) model.Add($"HeadDim = {s.HeadDim}");
            if (s.ScaleEmbeddings) model.Add("ScaleEmbeddings = true");
            if (s.LogitSoftCap > 0) model.Add($"LogitSoftCap = {D(s.LogitSoftCap)}");

            var norm = new List<string> { $"Kind.{s.Norm}", $"Type = NormType.{s.NormType}", $"Eps = {D(s.Eps)}" };
            if (s.Scale != ScaleRule.None) norm.Add($"Scale = ScaleRule.{s.Scale}");
            if (s.Norm == Kind.Mix) norm.Add($"PostLayers = {s.PostLayers}");
            if (s.Norm == Kind.DeepNorm) norm.AddRange(new[] { $"Alpha = {D(s.Alpha)}", $"Beta = {D(s.Beta)}" });
            if (Norms.HasAlpha(s.NormType)) norm.AddRange(new[] { $"TanhAlpha = {D(s.TanhAlpha)}", $"TanhAlphaMlp = {D(s.TanhAlphaMlp)}", $"TanhAlphaFinal = {D(s.TanhAlphaFinal)}" });
            if (s.NormType == NormType.BHyT) norm.Add($"Kappa = {D(s.Kappa)}");
            if (s.FirstBlockPreNorm) norm.Add("FirstBlockPreNorm = true");
            if (s.EmbeddingNorm != (s.Norm == Kind.Peri)) norm.Add($"EmbeddingNorm = {(s.EmbeddingNorm ? "true" : "false")}");

            var attention = new List<string> { $"Rope = {(s.Rope ? "true" : "false")}" };
            if (s.Rope) attention.Add($"RopeTheta = {D(s.RopeTheta)}");
            if (s.QkNorm && s.Norm != Kind.Hybrid) attention.AddRange(new[] { "QkNorm = true", $"QkNormScope = QkNormScope.{s.QkNormScope}" });
            if (s.QkvBias) attention.Add("QkvBias = true");
            if (s.OutputBias) attention.Add("OutputBias = true");
            if (s.SoftCap > 0) attention.Add($"SoftCap = {D(s.SoftCap)}");
            if (s.QueryScaleDim > 0) attention.Add($"QueryScaleDim = {s.QueryScaleDim}");
            if (s.Rope && s.RopeScaling != RopeScaling.None)
            {
                attention.Add($"RopeScaling = RopeScaling.{s.RopeScaling}");
                attention.Add($"RopeFactor = {D(s.RopeFactor)}");
                if (s.RopeScaling == RopeScaling.Llama3)
                    attention.AddRange(new[] { $"RopeLowFreqFactor = {D(s.RopeLowFreqFactor)}", $"RopeHighFreqFactor = {D(s.RopeHighFreqFactor)}", $"RopeOriginalMaxSeq = {s.RopeOriginalMaxSeq}" });
            }

            var feedForward = new List<string> { $"Activation.{s.Activation}" };
            if (s.MlpBias) feedForward.Add("Bias = true");

            var init = new List<string> { $"Std = {D(s.Std)}", $"EmbeddingStd = {D(s.EmbeddingStd)}", $"Output = OutputInit.{s.OutputInit}" };

            var lines = new List<string>
            {
                $"[TransformerModel({string.Join(", ", model)})]",
                $"[Norm({string.Join(", ", norm)})]",
                $"[Attention({string.Join(", ", attention)})]",
                $"[FeedForward({string.Join(", ", feedForward)})]",
                $"[Init({string.Join(", ", init)})]",
            };
            if (s.LayerScale) lines.Add($"[LayerScale(Init = {D(s.LayerScaleInit)})]");
            var residual = new List<string>();
            if (s.ResidualGate != ResidualGate.None) residual.AddRange(new[] { $"Gate = ResidualGate.{s.ResidualGate}", $"GateInit = {D(s.ResidualGateInit)}" });
            if (s.ResidualRule != ResidualRule.None) residual.AddRange(new[] { $"Rule = ResidualRule.{s.ResidualRule}", $"BaseLayers = {s.BaseLayers}" });
            if (residual.Count > 0) lines.Add($"[Residual({string.Join(", ", residual)})]");
            if (s.HyperStreams > 0) lines.Add($"[HyperConnections(Streams = {s.HyperStreams}, Manifold = {(s.HyperManifold ? "true" : "false")})]");
            return lines;
        }

        /// <summary>A double as a C# literal that reads back to the same value.</summary>
        private static string D(double value)
        {
            string r = value.ToString("R", CultureInfo.InvariantCulture);
            return r.Contains('.') || r.Contains('E') ? r : r + ".0";
        }
    }
}
