using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Interop.PyTorch
{
    /// <summary>
    /// The <c>options.json</c> of a PyTorch export or of a checkpoint <c>train.py</c> wrote: the whole recipe, from its
    /// owners on the lnsrun side (<see cref="TrainOptions"/>, <see cref="FlatAdam"/>'s constants and decay rule,
    /// <see cref="GradientNorms.ClipEpsilon"/>). train.py has no defaults of its own for any of it: a missing field is
    /// an error naming it, and its flags only override.
    /// </summary>
    /// <param name="Options">The run's training options (its data, tokenizer, recipe).</param>
    /// <param name="Step">The step the weights are at (0: an initialisation).</param>
    /// <param name="Cache">The token cache directory (<c>train.lnstok</c>, <c>valid.lnstok</c>); null for a fine-tuning
    /// run (its data are instruction examples, not a token cache: train.py then needs <c>--cache</c>).</param>
    /// <param name="EndOfText">The tokenizer's end-of-text id.</param>
    public sealed record PyTorchRunOptions(TrainOptions Options, int Step, string? Cache, int EndOfText)
    {
        /// <summary>Adam's and AdamW's constants (lnsrun's <see cref="FlatAdam"/>).</summary>
        public AdamConstants Adam { get; init; } = AdamConstants.LnsRun;
        /// <summary>The clipping coefficient's epsilon, <c>min(1, Clip / (norm + ClipEpsilon))</c>.</summary>
        public double ClipEpsilon { get; init; } = GradientNorms.ClipEpsilon;
        /// <summary>The parameters AdamW's decoupled weight decay applies to (lnsrun's rule: matrices, not norms and biases,
        /// the token embedding only with DecayEmbeddings), by name; Adam's L2 decay applies to every parameter.</summary>
        public IReadOnlyList<string> DecayedParameters { get; init; } = Array.Empty<string>();
        /// <summary>The parameters whose learning rate or Adam eps differs from the run's (a depth rule's block groups,
        /// <see cref="FlatAdam.WithDepthRule"/>), by name: the factors on both. Empty without a depth rule.</summary>
        public IReadOnlyDictionary<string, ParameterScale> ParameterScales { get; init; } = new Dictionary<string, ParameterScale>();

        /// <summary>The record for <paramref name="model"/> trained with <paramref name="options"/>: the decayed parameters and
        /// the per-parameter factors from <see cref="FlatAdam.Describe"/> and <see cref="FlatAdam.WithDepthRule"/>.</summary>
        public static PyTorchRunOptions For(TransformerModule model, TrainOptions options, int step, string? cache, int endOfText)
        {
            var parameters = FlatAdam.WithDepthRule(FlatAdam.Describe(model, options.DecayEmbeddings), model.Spec);
            return new(options, step, cache, endOfText)
            {
                DecayedParameters = parameters.Where(p => p.Decay).Select(p => p.Name).ToList(),
                ParameterScales = parameters.Where(p => p.LrScale != 1.0 || p.EpsScale != 1.0).ToDictionary(p => p.Name, p => new ParameterScale(p.LrScale, p.EpsScale)),
            };
        }
    }

    /// <summary>One parameter's factors on the run's learning rate and on Adam's eps.</summary>
    public sealed record ParameterScale(double Lr, double Eps);

    /// <summary>Adam's betas and epsilon.</summary>
    public sealed record AdamConstants(double Beta1, double Beta2, double Eps)
    {
        public static readonly AdamConstants LnsRun = new(FlatAdam.Beta1, FlatAdam.Beta2, FlatAdam.Eps);
    }

    /// <summary>
    /// A directory with LnsDsl's parameters in safetensors (a PyTorch export, or a checkpoint <c>train.py</c> wrote):
    /// <c>model.safetensors</c> under LnsDsl's names, <c>config.json</c> (the architecture record: the model's
    /// <see cref="ModelSpec"/>) and <c>options.json</c> (<see cref="PyTorchRunOptions"/>). lnsrun evaluates and analyses
    /// these as it does its own checkpoints.
    /// </summary>
    public static class PyTorchCheckpoint
    {
        public const string WeightsFile = "model.safetensors", ConfigFile = "config.json", OptionsFile = "options.json";

        /// <summary>Whether <paramref name="directory"/> holds such a checkpoint.</summary>
        public static bool Is(string directory)
            => File.Exists(Path.Combine(directory, WeightsFile)) && File.Exists(Path.Combine(directory, OptionsFile)) && File.Exists(Path.Combine(directory, ConfigFile));

        public static ModelSpec ReadSpec(string directory)
        {
            string path = Path.Combine(directory, ConfigFile);
            try { return JsonSerializer.Deserialize<ModelSpec>(File.ReadAllText(path), RunDirectory.Json) ?? throw new UserError($"'{path}' is empty"); }
            catch (JsonException e) { throw new UserError($"'{path}' is not an LnsDsl architecture record ({e.Message})"); }
        }

        public static PyTorchRunOptions ReadOptions(string directory)
        {
            string path = Path.Combine(directory, OptionsFile);
            try { return JsonSerializer.Deserialize<PyTorchRunOptions>(File.ReadAllText(path), RunDirectory.Json) ?? throw new UserError($"'{path}' is empty"); }
            catch (JsonException e) { throw new UserError($"'{path}' is not valid ({e.Message})"); }
        }

        /// <summary>
        /// The model of <paramref name="directory"/> in the class <paramref name="entry"/> (resolved by LnsDsl.Loading's
        /// ModelSources from the architecture record or the class asked for), its architecture compared field by field,
        /// its weights loaded by name, measured with the run's data settings.
        /// </summary>
        public static TrainedModel Open(string directory, ModelEntry entry, Device device, string? dtype, Action<string>? log = null)
        {
            var spec = ReadSpec(directory);
            var run = ReadOptions(directory);
            var differences = ArchitectureComparison.Differences(spec, entry.Spec);
            if (differences.Count > 0)
                throw new UserError($"'{directory}' is of another architecture than {entry.Name}; these fields differ:\n  {string.Join("\n  ", differences)}\nit belongs to {spec.Name}");
            var (type, _) = Devices.ResolveDtype(dtype ?? "", device);
            var module = TransformerModule.CreateForLoading(() => entry.Create(0), ScalarType.Float32);
            try
            {
                var tensors = SafeTensors.Read(Path.Combine(directory, WeightsFile));
                try
                {
                    var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                    var missing = parameters.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
                    var extra = tensors.Keys.Where(k => !parameters.ContainsKey(k)).ToList();
                    if (missing.Count > 0 || extra.Count > 0)
                        throw new UserError($"'{directory}': the weights do not match {entry.Name}: missing {string.Join(", ", missing.DefaultIfEmpty("none"))}; unexpected {string.Join(", ", extra.DefaultIfEmpty("none"))}");
                    using (no_grad())
                        foreach (var (name, p) in parameters)
                        {
                            if (!p.shape.SequenceEqual(tensors[name].shape))
                                throw new UserError($"'{directory}': {name} has shape [{string.Join(", ", tensors[name].shape)}], {entry.Name} expects [{string.Join(", ", p.shape)}]");
                            p.copy_(tensors[name]);
                        }
                }
                finally
                {
                    foreach (var t in tensors.Values) t.Dispose();
                }
                module.to(device);
                if (type != ScalarType.Float32) module.to(type);
                var options = run.Options with { Model = entry.Name };
                var tokenizer = Tokenizer(directory, options, module.Spec, log);
                return TrainedModel.Of(module, tokenizer, options, Path.GetFullPath(directory), $"{entry.Name} ({Path.GetFileName(Path.GetFullPath(directory))}, step {run.Step})", run.Step);
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }

        /// <summary>The tokenizer: <c>lnsdsl_tokenizer.json</c> beside the weights or in a directory above them, else the run's
        /// own (its data settings rebuild it from the token cache).</summary>
        private static ITextTokenizer Tokenizer(string directory, TrainOptions options, ModelSpec spec, Action<string>? log)
        {
            for (var d = new DirectoryInfo(Path.GetFullPath(directory)); d is not null; d = d.Parent)
            {
                string file = Path.Combine(d.FullName, HuggingFaceTokenizer.LnsDslFile);
                if (File.Exists(file)) return Tokenizers.Load(file);
                if (d.FullName.Length < 2) break;
            }
            using var data = DataSet.ForModel(options.Data, options.Tokenizer, options.Compact, spec, log);
            return data.Tokenizer;
        }
    }
}
