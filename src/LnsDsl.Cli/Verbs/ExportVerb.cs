using System;
using System.Collections.Generic;
using System.Linq;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Interop;
using LnsDsl.Interop.HuggingFace;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Cli.Verbs
{
    [Verb("export", HelpText = "Write a model in another ecosystem's format: --hf OUT (a Hugging Face checkpoint: config.json, safetensors, tokenizer; LNS folded into the norm weights).")]
    public sealed class ExportVerb : Verb, IDtypeOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records; without --checkpoint, the declared model at its initialisation).")]
        public string? Model { get; set; }

        [Option("checkpoint", HelpText = "A run directory (its latest checkpoint) or a checkpoints/step-* directory.")]
        public string? Checkpoint { get; set; }

        [Option("hf", Min = 1, Max = 2, HelpText = "OUT: the Hugging Face directory to write; or IN OUT: re-export a Hugging Face checkpoint (with --remove-layers).")]
        public IEnumerable<string> HuggingFace { get; set; } = Array.Empty<string>();

        [Option("remove-layers", Separator = ',', HelpText = "1-based blocks to leave out, comma-separated (the paper's layer-removal script): the rest renumbered, num_hidden_layers updated.")]
        public IEnumerable<int> RemoveLayers { get; set; } = Array.Empty<int>();

        [Option("max-shard-bytes", HelpText = "Shard the weights past this many bytes (model.safetensors.index.json).")]
        public long? MaxShardBytes { get; set; }

        public string? Dtype { get; set; }

        public override object[] Records() => new object[] { new HfExportOptions() };

        public override int Run()
        {
            var options = Settings.Apply(this, new HfExportOptions());
            var paths = HuggingFace.ToList();
            if (paths.Count == 0) throw new UserError("give the output: --hf OUT (a Hugging Face checkpoint directory)");
            string output = paths[^1];
            string? input = paths.Count == 2 ? paths[0] : null;
            if (input is not null && (Checkpoint is not null || Model is not null))
                throw new UserError("--hf IN OUT re-exports a Hugging Face checkpoint; give either that or MODEL/--checkpoint with --hf OUT");
            if (input is not null)
            {
                using var imported = Interop.HuggingFace.HuggingFace.Load(input, null, Console.Error.WriteLine);
                Interop.HuggingFace.HuggingFace.Save(imported, output, options);
            }
            else if (Checkpoint is not null)
            {
                using var trained = ModelSources.Open(Checkpoint, null, Model, "cpu", "fp32");
                Interop.HuggingFace.HuggingFace.Save(trained.Model, output, options with { Tokenizer = trained.Tokenizer });
            }
            else
            {
                using var model = ModelCatalog.Get(Model ?? LnsDsl.Models.Zoo.Default).Create(0);
                Interop.HuggingFace.HuggingFace.Save(model, output, options);
            }
            Console.WriteLine($"wrote {output}");
            return 0;
        }
    }
}
