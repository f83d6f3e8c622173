using System;
using System.IO;
using System.Linq;
using LnsDsl.Compilation;
using LnsDsl.Evaluation;
using LnsDsl.Interop;
using LnsDsl.Interop.PyTorch;
using LnsDsl.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Loading
{
    /// <summary>The kinds of checkpoint <see cref="ModelSources"/> opens.</summary>
    public enum CheckpointKind
    {
        /// <summary>An lnsrun run directory or one of its <c>checkpoints/step-*</c> directories: pre-trained, fine-tuned
        /// or converted (<c>state.json</c> records the class and the architecture).</summary>
        Run,
        /// <summary>A PyTorch export (<c>lnsrun export --pytorch</c>) or a checkpoint its <c>train.py</c> wrote
        /// (<c>model.safetensors</c> under LnsDsl's names, <c>config.json</c> = the architecture, <c>options.json</c>).</summary>
        PyTorch,
        /// <summary>A Hugging Face checkpoint directory (<c>config.json</c> with a <c>model_type</c>, safetensors weights).</summary>
        HuggingFace,
    }

    /// <summary>
    /// The one path from a checkpoint to a model. Every verb that takes a checkpoint (eval, eval --tasks, generate,
    /// analyze, compare with runs, export --hf/--pytorch, finetune --checkpoint, convert, train --resume) comes here:
    /// <see cref="KindOf"/> tells the kind from the files, <see cref="Resolve"/> gives the model class (the one named,
    /// else the one recorded, compiled from the recorded architecture when this process has no such class: a converted
    /// run, a model declared in another project), and <see cref="Open"/> gives the model with its weights, tokenizer and
    /// data settings. Each call returns what it resolved; nothing later relies on a class having been registered by an
    /// earlier call. A run's <c>state.json</c> is read once per open and each of its files hashed once.
    /// </summary>
    public static class ModelSources
    {
        /// <summary>What <paramref name="path"/> holds; a <see cref="UserError"/> naming the files looked for when it is none of the kinds.</summary>
        public static CheckpointKind KindOf(string path)
        {
            if (File.Exists(path))
                throw new UserError($"'{path}' is a file; give a checkpoint directory (a run, checkpoints/step-*, a PyTorch export or a Hugging Face directory)");
            if (!Directory.Exists(path))
                throw new UserError($"checkpoint '{path}' does not exist; give a run directory, one of its checkpoints/step-* directories, a PyTorch export or a Hugging Face directory");
            if (File.Exists(Path.Combine(path, "state.json")) || Checkpoint.List(path).Count > 0) return CheckpointKind.Run;
            if (PyTorchCheckpoint.Is(path) || LatestPyTorch(path) is not null) return CheckpointKind.PyTorch;
            if (Directory.Exists(Path.Combine(path, Checkpoint.Directory))) return CheckpointKind.Run; // a run before its first complete checkpoint: Checkpoint.Resolve says so
            if (File.Exists(Path.Combine(path, "config.json")) && HasSafeTensors(path)) return CheckpointKind.HuggingFace;
            throw new UserError($"'{path}' is not a checkpoint: no state.json or {Checkpoint.Directory}/step-*/ (an lnsrun run), no model.safetensors + config.json + "
                                + "options.json (a PyTorch export), no config.json + *.safetensors (a Hugging Face checkpoint)");
        }

        /// <summary>A train.py run directory's latest complete checkpoint (<c>checkpoints/step-*</c> with its three files), or null.</summary>
        private static string? LatestPyTorch(string path)
        {
            string root = Path.Combine(path, Checkpoint.Directory);
            return Directory.Exists(root)
                ? Directory.GetDirectories(root, "step-*").Where(PyTorchCheckpoint.Is).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault()
                : null;
        }

        /// <summary>The PyTorch checkpoint at <paramref name="path"/>: itself, or a train.py run directory's latest.</summary>
        private static string PyTorchDirectory(string path) => PyTorchCheckpoint.Is(path) ? path : LatestPyTorch(path)!;

        private static bool HasSafeTensors(string path)
            => File.Exists(Path.Combine(path, "model.safetensors")) || File.Exists(Path.Combine(path, "model.safetensors.index.json"));

        /// <summary>
        /// The model class of the checkpoint at <paramref name="path"/>: <paramref name="model"/> when given (it must be
        /// known to this process unless it is the recorded class), else the class the checkpoint records, compiled from
        /// its recorded architecture when this process has no class of that name.
        /// </summary>
        public static ModelEntry Resolve(string path, string? model = null) => KindOf(path) switch
        {
            CheckpointKind.Run => ResolveRun(Checkpoint.Resolve(path), null, model).Entry,
            CheckpointKind.PyTorch => ResolveSpec(PyTorchCheckpoint.ReadSpec(PyTorchDirectory(path)), model),
            _ => ResolveHuggingFace(path, model),
        };

        /// <summary>
        /// The model of <paramref name="checkpoint"/> (any <see cref="CheckpointKind"/>; <paramref name="model"/> overrides
        /// the class it records) or of <paramref name="huggingFace"/> (a Hugging Face directory, with its own tokenizer
        /// unless <paramref name="tokenizer"/> names one); exactly one of the two.
        /// </summary>
        /// <param name="dtype">fp32, or bf16 / bf16-pure (bf16 weights); null or empty: fp32 on the CPU, bf16 on CUDA for
        /// runs, the stored dtype for a Hugging Face checkpoint.</param>
        public static TrainedModel Open(string? checkpoint, string? huggingFace, string? model, string device, string? dtype, string? tokenizer = null, Action<string>? log = null)
        {
            if ((checkpoint is null) == (huggingFace is null))
                throw new SettingError("give a run's checkpoint ({Checkpoint}) or a Hugging Face directory ({Hf}), one of the two");
            return Open(checkpoint ?? huggingFace!, model, Devices.Resolve(device), dtype, tokenizer, log, huggingFace is not null);
        }

        /// <summary>The model of <paramref name="path"/>, whatever its <see cref="CheckpointKind"/>.</summary>
        public static TrainedModel Open(string path, string? model, Device device, string? dtype = null, string? tokenizer = null, Action<string>? log = null)
            => Open(path, model, device, dtype, tokenizer, log, huggingFaceOnly: false);

        private static TrainedModel Open(string path, string? model, Device device, string? dtype, string? tokenizer, Action<string>? log, bool huggingFaceOnly)
        {
            var kind = KindOf(path);
            if (huggingFaceOnly && kind != CheckpointKind.HuggingFace)
                throw new UserError($"'{path}' is {Describe(kind)}, not a Hugging Face checkpoint; give it with --checkpoint");
            if (kind != CheckpointKind.HuggingFace && tokenizer is not null)
                throw new SettingError($"{{Tokenizer}} applies to a Hugging Face checkpoint; '{path}' is {Describe(kind)}, which keeps the tokenizer it trained with");
            switch (kind)
            {
                case CheckpointKind.Run:
                {
                    string checkpoint = Checkpoint.Resolve(path);
                    var (entry, state) = ResolveRun(checkpoint, Checkpoint.PeekState(checkpoint), model);
                    return TrainedModel.Load(checkpoint, state, entry, device, dtype);
                }
                case CheckpointKind.PyTorch:
                {
                    string directory = PyTorchDirectory(path);
                    return PyTorchCheckpoint.Open(directory, ResolveSpec(PyTorchCheckpoint.ReadSpec(directory), model), device, dtype, log);
                }
                default:
                    if (model is not null)
                        throw new SettingError($"'{path}' is a Hugging Face checkpoint: its config.json is its architecture; leave out MODEL ('{model}')");
                    return HuggingFace.Open(path, device, dtype, tokenizer, log);
            }
        }

        /// <summary>A run checkpoint's class and state (<paramref name="state"/>: already read, or null to read it now).</summary>
        private static (ModelEntry Entry, CheckpointState State) ResolveRun(string checkpoint, CheckpointState? state, string? model)
        {
            state ??= Checkpoint.PeekState(checkpoint);
            if (state.Model.Length == 0) throw new UserError($"checkpoint '{checkpoint}' is corrupt: state.json names no model");
            if (model is not null && model != state.Model) return (ModelCatalog.Get(model), state); // another class: it must be known (names the closest)
            if (ModelCatalog.TryGet(state.Model, out var entry)) return (entry, state);
            if (state.Spec is null) return (ModelCatalog.Get(state.Model), state); // the first format: the class must be known; names the closest
            return (Compile(state.Spec, state.Model), state);
        }

        /// <summary>The class of an architecture record (a PyTorch export's config.json).</summary>
        private static ModelEntry ResolveSpec(ModelSpec spec, string? model)
        {
            if (model is not null && model != spec.Name) return ModelCatalog.Get(model);
            return ModelCatalog.TryGet(spec.Name, out var entry) ? entry : Compile(spec, spec.Name);
        }

        private static ModelEntry ResolveHuggingFace(string path, string? model)
        {
            if (model is not null) throw new SettingError($"'{path}' is a Hugging Face checkpoint: its config.json is its architecture; leave out MODEL ('{model}')");
            return HuggingFace.Declare(path).Entry;
        }

        /// <summary>The recorded architecture declared again and compiled (no origin in the source: the same
        /// architecture compiles once, whichever checkpoint asks).</summary>
        private static ModelEntry Compile(ModelSpec spec, string className)
        {
            // A class name may be namespace-qualified in the record (a user's nested or namespaced model): declare the simple name.
            string simple = className[(className.LastIndexOf('.') + 1)..];
            return ModelCompiler.Compile(SpecDeclaration.Source(spec, simple), simple);
        }

        private static string Describe(CheckpointKind kind) => kind switch
        {
            CheckpointKind.Run => "an lnsrun run",
            CheckpointKind.PyTorch => "a PyTorch export",
            _ => "a Hugging Face checkpoint",
        };
    }
}
