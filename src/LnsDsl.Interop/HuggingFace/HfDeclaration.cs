using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using LnsDsl.Compilation;

namespace LnsDsl.Interop
{
    /// <summary>
    /// The LnsDsl declaration (the attributes of a partial class) that computes what a Hugging Face config
    /// describes. <c>lnsrun import</c> prints it; <see cref="ModelCompiler"/> compiles it with the project's
    /// generator, so an imported model runs through the same generated code as a declared one.
    /// </summary>
    public static class HfDeclaration
    {
        public const string Namespace = "LnsDsl.Imported";

        /// <summary>The C# source of a file declaring <paramref name="className"/> for <paramref name="c"/>.</summary>
        public static string Source(HfConfig c, string className, string? origin = null)
            => SpecDeclaration.File($"{c.Architecture}{(origin is null ? "" : " from " + origin)}: {c.Layers} layers x {c.Hidden}, as an LnsDsl declaration.",
                Namespace, new[] { (Attributes(c), className) });

        /// <summary>The attributes, one per line, with every argument that differs from the DSL's default.</summary>
        public static IReadOnlyList<string> Attributes(HfConfig c)
        {
            var model = new List<string> { $"Layers = {c.Layers}", $"Hidden = {c.Hidden}", $"Heads = {c.Heads}", $"FeedForward = {c.Intermediate}", $"Vocab = {c.Vocab}" };
            if (c.KvHeads != c.Heads) model.Add($"KvHeads = {c.KvHeads}");
            int maxSeq = c.SlidingWindow is { } w ? Math.Min(w, c.MaxPositions) : c.MaxPositions;
            model.Add($"MaxSeq = {maxSeq}");
            if (c.TieEmbeddings) model.Add("TieEmbeddings = true");
            if (c.ExplicitHeadDim && c.HeadDim * c.Heads != c.Hidden) model.Add($"HeadDim = {c.HeadDim}");
            if (c.Family == HfFamily.Gemma2) model.Add("ScaleEmbeddings = true");
            if (c.FinalSoftCap > 0) model.Add($"LogitSoftCap = {D(c.FinalSoftCap)}");

            var norm = new List<string>
            {
                c.Family switch { HfFamily.Gemma2 => "Kind.Peri", HfFamily.Olmo2 => "Kind.OutputNorm", _ => "Kind.Pre" },
            };
            if (c.Family == HfFamily.Gemma2) norm.AddRange(new[] { "Type = NormType.RmsNormPlusOne", "EmbeddingNorm = false" });
            norm.Add($"Eps = {D(c.Eps)}");

            var attention = new List<string> { $"RopeTheta = {D(c.RopeTheta)}" };
            if (c.AttentionBias || c.Family == HfFamily.Qwen2) attention.Add("QkvBias = true");
            if (c.AttentionBias) attention.Add("OutputBias = true");
            if (c.Family == HfFamily.Qwen3) attention.Add("QkNorm = true");
            if (c.Family == HfFamily.Olmo2) attention.AddRange(new[] { "QkNorm = true", "QkNormScope = QkNormScope.Projection" });
            if (c.AttnSoftCap > 0) attention.Add($"SoftCap = {D(c.AttnSoftCap)}");
            if (c.Family == HfFamily.Gemma2 && c.QueryPreAttnScalar != c.HeadDim) attention.Add($"QueryScaleDim = {c.QueryPreAttnScalar}");
            if (c.RopeScaling is { } r)
            {
                attention.Add(r.Type == "linear" ? "RopeScaling = RopeScaling.Linear" : "RopeScaling = RopeScaling.Llama3");
                attention.Add($"RopeFactor = {D(r.Factor)}");
                if (r.Type == "llama3")
                {
                    attention.Add($"RopeLowFreqFactor = {D(r.LowFreqFactor)}");
                    attention.Add($"RopeHighFreqFactor = {D(r.HighFreqFactor)}");
                    attention.Add($"RopeOriginalMaxSeq = {r.OriginalMaxPositions}");
                }
            }

            string activation = c.Activation switch
            {
                "gelu_pytorch_tanh" or "gelu_new" => "Activation.GegluTanh",
                "gelu" => "Activation.Geglu",
                _ => "Activation.SwiGlu",
            };
            var feedForward = new List<string> { activation };
            if (c.MlpBias) feedForward.Add("Bias = true");

            return new[]
            {
                $"[TransformerModel({string.Join(", ", model)})]",
                $"[Norm({string.Join(", ", norm)})]",
                $"[Attention({string.Join(", ", attention)})]",
                $"[FeedForward({string.Join(", ", feedForward)})]",
            };
        }

        /// <summary>A C# class name from a checkpoint directory's name (e.g. <c>TinyLlama-1.1B</c> → <c>TinyLlama_1_1B</c>).</summary>
        public static string ClassName(string directory)
        {
            string name = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(directory)));
            var sb = new StringBuilder();
            foreach (char ch in name) sb.Append(char.IsAsciiLetterOrDigit(ch) ? ch : '_');
            string result = sb.ToString().Trim('_');
            if (result.Length == 0 || !char.IsAsciiLetter(result[0])) result = "Hf" + result;
            return result;
        }

        private static string D(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }
}
