using System;
using System.Collections.Generic;
using System.Linq;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Interop;
using LnsDsl.Interop.PyTorch;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Cli.Verbs
{
    [Verb("export", HelpText = "Write a model in another ecosystem's format: --hf OUT (a Hugging Face checkpoint: config.json, safetensors, tokenizer; LNS folded into the norm weights) or --pytorch OUT (model.py + train.py for torchrun: every placement, LNS kept).")]
    public sealed class ExportVerb : Verb, IDtypeOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records; without --checkpoint, the declared model at its initialisation).")]
        public string? Model { get; set; }

        [Option("checkpoint", HelpText = "A run directory (its latest checkpoint) or a checkpoints/step-* directory.")]
        public string? Checkpoint { get; set; }

        [Option("hf", Min = 1, Max = 2, HelpText = "OUT: the Hugging Face directory to write; or IN OUT: re-export a Hugging Face checkpoint (with --remove-layers).")]
        public IEnumerable<string> HuggingFace { get; set; } = Array.Empty<string>();

        [Option("pytorch", HelpText = "OUT: the model as PyTorch code (model.py, generated from its spec) with its weights, options and train.py, which continues training under torchrun (DDP/FSDP).")]
        public string? PyTorch { get; set; }

        [Option("remove-layers", Separator = ',', HelpText = "1-based blocks to leave out, comma-separated (the paper's layer-removal script): the rest renumbered, num_hidden_layers updated.")]
        public IEnumerable<int> RemoveLayers { get; set; } = Array.Empty<int>();

        [Option("max-shard-bytes", HelpText = "Shard the weights past this many bytes (model.safetensors.index.json).")]
        public long? MaxShardBytes { get; set; }

        public string? Dtype { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "PyTorch" };

        public override object[] Records() => new object[] { new HfExportOptions() };

        public override int Run()
        {
            if (PyTorch is not null) return ToPyTorch();
            var options = Settings.Apply(this, new HfExportOptions());
            var paths = HuggingFace.ToList();
            if (paths.Count == 0) throw new UserError("give the output: --hf OUT (a Hugging Face checkpoint directory) or --pytorch OUT (PyTorch code)");
            string output = paths[^1];
            string? input = paths.Count == 2 ? paths[0] : null;
            if (input is not null && (Checkpoint is not null || Model is not null))
                throw new UserError("--hf IN OUT re-exports a Hugging Face checkpoint; give either that or MODEL/--checkpoint with --hf OUT");
            if (input is not null)
            {
                using var imported = Interop.HuggingFace.Load(input, null, Console.Error.WriteLine);
                Interop.HuggingFace.Save(imported, output, options);
            }
            else if (Checkpoint is not null)
            {
                using var trained = ModelSources.Open(Checkpoint, null, Model, "cpu", "fp32");
                Interop.HuggingFace.Save(trained.Model, output, options with { Tokenizer = trained.Tokenizer });
            }
            else
            {
                using var model = ModelCatalog.Get(Model ?? LnsDsl.Models.Zoo.Default).Create(0);
                Interop.HuggingFace.Save(model, output, options);
            }
            Console.WriteLine($"wrote {output}");
            return 0;
        }

        private int ToPyTorch()
        {
            if (HuggingFace.Any()) throw new UserError("give one output: --hf OUT or --pytorch OUT");
            if (RemoveLayers.Any()) throw new UserError("--remove-layers applies to the Hugging Face export (--hf)");
            var options = new PyTorchExportOptions { Dtype = Dtype ?? "" };
            if (Checkpoint is not null)
            {
                using var trained = ModelSources.Open(Checkpoint, null, Model, "cpu", "fp32");
                string? cache = null;
                using (var data = trained.OpenData(Console.Error.WriteLine)) cache = data.Directory;
                var run = new PyTorchRunOptions(trained.Options, trained.Step, cache, trained.Tokenizer.EndOfText);
                PyTorchExport.Write(trained.Model, PyTorch!, options with { Run = run, Tokenizer = trained.Tokenizer });
            }
            else
            {
                using var model = ModelCatalog.Get(Model ?? LnsDsl.Models.Zoo.Default).Create(0);
                PyTorchExport.Write(model, PyTorch!, options);
            }
            Console.WriteLine($"wrote {PyTorch}");
            return 0;
        }
    }
}
