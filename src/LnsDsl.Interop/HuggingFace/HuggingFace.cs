using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;
using LnsDsl.Compilation;

namespace LnsDsl.Interop
{
    /// <summary>
    /// Hugging Face checkpoints in and out. <see cref="Load"/> reads <c>config.json</c>, prints it as an LnsDsl
    /// declaration (<see cref="HfDeclaration"/>), compiles that with the project's generator (<see cref="ModelCompiler"/>)
    /// and loads the safetensors weights onto the fused layouts; <see cref="Save"/> writes the reverse.
    /// </summary>
    public static class HuggingFace
    {
        /// <summary>What an imported model was read from (for the tokenizer and a faithful re-export).</summary>
        private static readonly ConditionalWeakTable<TransformerModule, Source> Sources = new();

        private sealed record Source(HfConfig Config, string Directory);

        /// <summary>The tokenizer files a checkpoint may carry (copied along on export).</summary>
        public static readonly string[] TokenizerFiles =
        {
            "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "generation_config.json",
        };

        /// <summary>A checkpoint directory's model, in its stored dtype (bf16 stays bf16).</summary>
        public static TransformerModule Load(string directory) => Load(directory, null);

        /// <summary>A checkpoint directory's model; <paramref name="dtype"/> overrides the stored dtype (e.g. fp32).</summary>
        public static TransformerModule Load(string directory, ScalarType? dtype, Action<string>? log = null)
        {
            var (config, entry) = Declare(directory);
            NativeMemory.ReturnLargeBlocks();
            using var checkpoint = SafeTensors.OpenCheckpoint(directory);
            var stored = StoredType(config, checkpoint);
            var model = TransformerModule.CreateForLoading(() => entry.Create(0), dtype ?? stored);
            try
            {
                LoadWeights(model, checkpoint, directory, config.TieEmbeddings);
                model.eval();
                Sources.AddOrUpdate(model, new Source(config, Path.GetFullPath(directory)));
                log?.Invoke($"{directory}: {config.Architecture}, {model.Spec.ParameterCount:N0} parameters, {dtype ?? stored}");
                return model;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }

        /// <summary>
        /// A checkpoint directory's model on <paramref name="device"/>, ready to measure: its own tokenizer (unless
        /// <paramref name="tokenizer"/> names another), the built-in corpora, sequences of 256 (the measuring
        /// options override these). <paramref name="dtype"/>: fp32, or bf16 / bf16-pure (both: bf16 weights, <see cref="Devices.ResolveDtype"/>); empty keeps the stored dtype.
        /// </summary>
        public static TrainedModel Open(string directory, Device device, string? dtype = null, string? tokenizer = null, Action<string>? log = null)
        {
            ScalarType? type = string.IsNullOrEmpty(dtype) ? null : Devices.ResolveDtype(dtype, device).Type;
            var model = Load(directory, type, log);
            try
            {
                string spec = tokenizer ?? "hf:" + Path.GetFullPath(directory);
                var text = Tokenizers.Create(spec);
                if (text.VocabSize > model.Spec.Vocab)
                    throw new UserError($"the tokenizer {text.Name} has {text.VocabSize} ids but the checkpoint's vocab_size is {model.Spec.Vocab}");
                model.to(device);
                var options = new TrainOptions { Model = model.Spec.Name, Tokenizer = spec, Compact = 0, Seq = Math.Min(256, model.Spec.MaxSeq) };
                return TrainedModel.Of(model, text, options, Path.GetFullPath(directory), $"{model.Spec.Name} (imported)");
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }

        /// <summary>Loads a checkpoint directory's weights into <paramref name="model"/> (an instance of the model
        /// <see cref="Declare"/> compiled for it), converting to the model's dtype: fine-tuning an imported model.</summary>
        public static void LoadInto(TransformerModule model, string directory)
        {
            var config = HfConfig.Read(Path.Combine(directory, "config.json"));
            using var checkpoint = SafeTensors.OpenCheckpoint(directory);
            LoadWeights(model, checkpoint, directory, config.TieEmbeddings);
        }

        /// <summary>The config and the compiled LnsDsl model that computes it (no weights read).</summary>
        public static (HfConfig Config, ModelEntry Entry) Declare(string directory)
        {
            if (!Directory.Exists(directory)) throw new UserError($"'{directory}' is not a directory; give a Hugging Face checkpoint directory (config.json + model.safetensors)");
            var config = HfConfig.Read(Path.Combine(directory, "config.json"));
            string className = HfDeclaration.ClassName(directory);
            var entry = ModelCompiler.Compile(HfDeclaration.Source(config, className, Path.GetFileName(Path.GetFullPath(directory))), className);
            return (config, entry);
        }

        /// <summary>The declaration a checkpoint's config reproduces, as C# source (<c>lnsrun import</c>).</summary>
        public static string Declaration(string directory)
        {
            var config = HfConfig.Read(Path.Combine(directory, "config.json"));
            return HfDeclaration.Source(config, HfDeclaration.ClassName(directory), Path.GetFileName(Path.GetFullPath(directory)));
        }

        /// <summary>The config a model was imported from, or null for a model declared in LnsDsl.</summary>
        public static HfConfig? SourceOf(TransformerModule model) => Sources.TryGetValue(model, out var c) ? c.Config : null;

        /// <summary>
        /// Writes <paramref name="model"/> as a Hugging Face checkpoint: <c>config.json</c>, <c>model.safetensors</c> (or
        /// shards with <c>model.safetensors.index.json</c>) and the tokenizer, in the layout of the family that computes
        /// it; LNS's factor folded into the norm weights. Refuses, saying why, placements no Hugging Face class
        /// computes. <paramref name="directory"/> must be new or empty; it is written complete or not at all.
        /// </summary>
        public static void Save(TransformerModule model, string directory) => Save(model, directory, new HfExportOptions());

        /// <inheritdoc cref="Save(TransformerModule, string)"/>
        public static void Save(TransformerModule model, string directory, HfExportOptions options)
        {
            var spec = model.Spec;
            Sources.TryGetValue(model, out var source);
            var family = HfExport.FamilyOf(spec, source?.Config);
            var bad = options.RemoveLayers.Where(l => l < 1 || l > spec.Layers).ToList();
            if (bad.Count > 0) throw new SettingError($"{{RemoveLayers}}: {string.Join(", ", bad)} not in 1..{spec.Layers} ({spec.Name}'s blocks)");
            int layers = spec.Layers - options.RemoveLayers.Distinct().Count();
            if (layers < 1) throw new SettingError("{RemoveLayers} would remove every block");
            StagedDirectory.CheckNewOrEmpty(directory);

            var dtype = options.Dtype.Length > 0 ? Devices.ResolveDtype(options.Dtype, CPU).Type : model.parameters().First().dtype;
            var tensors = HfExport.Tensors(model, options.RemoveLayers, dtype);
            try
            {
                StagedDirectory.Write(directory, temp =>
                {
                    var config = HfExport.Config(spec, family, layers, dtype, source?.Config, options.Tokenizer);
                    File.WriteAllText(Path.Combine(temp, "config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
                    SafeTensors.WriteCheckpoint(temp, tensors, options.MaxShardBytes, new Dictionary<string, string> { ["format"] = "pt" });
                    WriteTokenizer(temp, options.Tokenizer, source?.Directory);
                });
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }

        /// <summary>
        /// The tokenizer beside the weights: a Hugging Face checkpoint's own files (its tokenizer is <c>hf:DIR</c>, or the
        /// model was imported from DIR), else LnsDsl's description of it (<c>lnsdsl_tokenizer.json</c>: tiktoken encodings
        /// and compacted vocabularies have no Hugging Face file).
        /// </summary>
        private static void WriteTokenizer(string directory, ITextTokenizer? tokenizer, string? importedFrom)
        {
            string? from = tokenizer?.Name.StartsWith("hf:", StringComparison.Ordinal) == true ? tokenizer.Name[3..] : tokenizer is null ? importedFrom : null;
            if (from is not null)
            {
                foreach (var file in TokenizerFiles)
                    if (File.Exists(Path.Combine(from, file))) File.Copy(Path.Combine(from, file), Path.Combine(directory, file));
            }
            if (tokenizer is not null) Tokenizers.Save(tokenizer, Path.Combine(directory, HuggingFaceTokenizer.LnsDslFile));
        }

        private static ScalarType StoredType(HfConfig config, SafeTensorsCheckpoint checkpoint)
        {
            var floating = checkpoint.Names.Select(n => SafeTensors.ScalarTypeOf(checkpoint.DtypeOf(n)))
                .Where(t => t is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64).Distinct().ToList();
            if (floating.Count == 1) return floating[0]!.Value;
            return config.Dtype switch
            {
                "bfloat16" => ScalarType.BFloat16,
                "float16" => ScalarType.Float16,
                _ => ScalarType.Float32,
            };
        }

        /// <summary>
        /// Copies the checkpoint's tensors into the model's parameters (fused rows), one tensor in memory at a time,
        /// checking names and shapes both ways.
        /// </summary>
        internal static void LoadWeights(TransformerModule model, SafeTensorsCheckpoint checkpoint, string directory, bool tied)
        {
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var mappings = HfWeights.Map(model.Spec, parameters.Keys);
            // Names and shapes first, from the headers alone: nothing is copied into a model that cannot be complete.
            foreach (var mapping in mappings)
            {
                var target = parameters[mapping.Parameter];
                foreach (var (name, rows) in mapping.Sources)
                {
                    if (!checkpoint.Contains(name))
                        throw new UserError($"'{directory}' has no tensor '{name}', which {model.Spec.Name}'s {mapping.Parameter} needs; is config.json the checkpoint's own?");
                    var expected = target.shape.ToArray();
                    if (expected.Length > 0 && rows >= 0) expected[0] = rows;
                    var shape = checkpoint.ShapeOf(name);
                    if (!shape.SequenceEqual(expected))
                        throw new UserError($"'{directory}': tensor '{name}' has shape [{string.Join(", ", shape)}] but config.json implies [{string.Join(", ", expected)}]");
                }
            }
            var used = new HashSet<string>(mappings.SelectMany(m => m.Sources.Select(s => s.Name)), StringComparer.Ordinal);
            var unused = checkpoint.Names.Where(k => !used.Contains(k) && !HfWeights.IsDerived(k) && !(tied && k == "lm_head.weight")).ToList();
            if (unused.Count > 0)
                throw new UserError($"'{directory}' holds tensors that {model.Spec.Name} has no place for: {string.Join(", ", unused.Take(8))}{(unused.Count > 8 ? ", ..." : "")}; config.json may not describe these weights (a bias it does not announce?)");

            using var noGrad = no_grad();
            foreach (var mapping in mappings)
            {
                var target = parameters[mapping.Parameter];
                long row = 0;
                foreach (var (name, rows) in mapping.Sources)
                {
                    using var source = checkpoint.Read(name);
                    if (rows < 0 || target.shape.Length == 0)
                    {
                        target.copy_(source);
                    }
                    else
                    {
                        using var slice = target.narrow(0, row, rows);
                        slice.copy_(source);
                        row += rows;
                    }
                }
            }
        }
    }
}
