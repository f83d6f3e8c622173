using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Interop.PyTorch
{
    /// <summary>How a model leaves for PyTorch (<see cref="PyTorchExport.Write"/>). Room for more (training options, tokenizer, train.py).</summary>
    public sealed record PyTorchExportOptions
    {
        /// <summary>The written tensors' dtype: fp32 or bf16 (empty: the model's own); <c>load</c> in model.py returns the model in it.</summary>
        public string Dtype { get; init; } = "";
        /// <summary>The run the weights come from (its options, step, token cache): written as <c>options.json</c> for
        /// <c>train.py</c>; null for a declared model at its initialisation (the default recipe, no data).</summary>
        public PyTorchRunOptions? Run { get; init; }
        /// <summary>The tokenizer, written as <c>lnsdsl_tokenizer.json</c> (null: none).</summary>
        public LnsDsl.Data.ITextTokenizer? Tokenizer { get; init; }
    }

    /// <summary>
    /// Writes a model as PyTorch code and weights: <c>model.py</c> (<see cref="PyTorchModelEmitter.ModelPy"/>, every LnsDsl
    /// placement and option, computed exactly as the TorchSharp model computes it), <c>config.json</c> (the
    /// <see cref="ModelSpec"/>, serialised as run files are: <see cref="RunDirectory.Json"/>) and <c>model.safetensors</c>
    /// (the parameters under LnsDsl's names, <c>model.named_parameters()</c>; no factor folded: the factors live in model.py).
    /// </summary>
    public static class PyTorchExport
    {

        public const string ModelFile = "model.py";
        public const string ConfigFile = "config.json";
        public const string WeightsFile = "model.safetensors";

        /// <summary>
        /// Writes the export directory. <paramref name="directory"/> must be new or empty (a non-empty one is refused and
        /// left untouched); it is assembled in a temporary sibling directory and moved into place, so it is written
        /// complete or not at all.
        /// </summary>
        public static void Write(TransformerModule model, string directory, PyTorchExportOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(directory);
            options ??= new PyTorchExportOptions();
            StagedDirectory.CheckNewOrEmpty(directory);
            var spec = model.Spec;
            var dtype = options.Dtype.Length > 0 ? Devices.ResolveDtype(options.Dtype, CPU).Type : model.parameters().First().dtype;
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                using (no_grad())
                {
                    foreach (var (name, p) in model.named_parameters())
                    {
                        var t = p.detach();
                        tensors[name] = t.dtype == dtype ? t.contiguous().cpu().clone() : t.to(dtype).contiguous().cpu();
                    }
                }
                StagedDirectory.Write(directory, temp =>
                {
                    File.WriteAllText(Path.Combine(temp, ModelFile), PyTorchModelEmitter.ModelPy(spec));
                    File.WriteAllText(Path.Combine(temp, ConfigFile), JsonSerializer.Serialize(spec, RunDirectory.Json) + "\n");
                    SafeTensors.Write(Path.Combine(temp, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
                    var run = options.Run ?? PyTorchRunOptions.For(model, new TrainOptions { Model = spec.Name }, 0, null, options.Tokenizer?.EndOfText ?? -1);
                    File.WriteAllText(Path.Combine(temp, PyTorchCheckpoint.OptionsFile), JsonSerializer.Serialize(run, RunDirectory.Json) + "\n");
                    if (options.Tokenizer is not null) LnsDsl.Data.Tokenizers.Save(options.Tokenizer, Path.Combine(temp, LnsDsl.Data.HuggingFaceTokenizer.LnsDslFile));
                    TrainScript.Write(temp); // the fixed script that continues training under torchrun
                    File.WriteAllText(Path.Combine(temp, "README.md"), PyTorchReadme.Text(spec, options.Run));
                });
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
    }
}
