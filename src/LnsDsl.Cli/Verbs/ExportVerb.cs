using System;
using System.Collections.Generic;
using System.Linq;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Interop;
using LnsDsl.Interop.PyTorch;
using LnsDsl.Loading;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Cli.Verbs
{
    [Verb("export", HelpText = "Write a model in another ecosystem's format: --hf OUT (a Hugging Face checkpoint: config.json, safetensors, tokenizer; LNS folded into the norm weights) or --pytorch OUT (model.py + train.py for torchrun: every placement, LNS kept; at initialisation with train's options, the token cache prepared).")]
    public sealed class ExportVerb : RecipeVerb, ISeedOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records; without --checkpoint, the declared model at its initialisation).")]
        public string? Model { get; set; }

        [Option("checkpoint", HelpText = "Any checkpoint: a run directory (its latest checkpoint), a checkpoints/step-* directory, a PyTorch export or train.py checkpoint.")]
        public string? Checkpoint { get; set; }

        [Option("hf", Min = 1, Max = 2, HelpText = "OUT: the Hugging Face directory to write; or IN OUT: re-export a Hugging Face checkpoint (with --remove-layers).")]
        public IEnumerable<string> HuggingFace { get; set; } = Array.Empty<string>();

        [Option("pytorch", HelpText = "OUT: the model as PyTorch code (model.py, generated from its spec) with its weights, the whole training recipe (options.json) and train.py, which continues training under torchrun (DDP/FSDP).")]
        public string? PyTorch { get; set; }

        [Option("remove-layers", Separator = ',', HelpText = "1-based blocks to leave out, comma-separated (the paper's layer-removal script): the rest renumbered, num_hidden_layers updated.")]
        public IEnumerable<int> RemoveLayers { get; set; } = Array.Empty<int>();

        [Option("max-shard-bytes", HelpText = "Shard the weights past this many bytes (model.safetensors.index.json).")]
        public long? MaxShardBytes { get; set; }

        [Option("lr", HelpText = "--pytorch at initialisation: the peak learning rate train.py uses (as train's --lr).")]
        public double? Lr { get; set; }

        public long? Seed { get; set; }

        public override IReadOnlyCollection<string> Inputs => new[] { "PyTorch" };

        public override object[] Records() => new object[] { new HfExportOptions(), new TrainOptions() };

        public override int Run()
        {
            if (PyTorch is not null) return ToPyTorch();
            if (GivenRecipe().Any()) throw new UserError($"{string.Join(", ", GivenRecipe())} set the training recipe of a --pytorch export at initialisation; --hf writes weights only");
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
                using var trained = ModelSources.Open(Checkpoint, Model, CPU, "fp32", log: Console.Error.WriteLine);
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

        /// <summary>The training-recipe flags given (they apply to --pytorch at initialisation only): every option that
        /// sets a <see cref="TrainOptions"/> property.</summary>
        private IEnumerable<string> GivenRecipe()
            => Settings.Options(GetType())
                .Where(p => typeof(TrainOptions).GetProperty(p.Property.Name) is not null && p.Property.Name != nameof(Dtype))
                .Where(p => p.Property.GetValue(this) is { } v && v is not false)
                .Select(p => "--" + p.Option.LongName).Distinct();

        private int ToPyTorch()
        {
            if (HuggingFace.Any()) throw new UserError("give one output: --hf OUT or --pytorch OUT");
            if (RemoveLayers.Any()) throw new UserError("--remove-layers applies to the Hugging Face export (--hf)");
            StagedDirectory.CheckNewOrEmpty(PyTorch!); // before any data is prepared or weights loaded
            var options = new PyTorchExportOptions { Dtype = Dtype ?? "" };
            if (Checkpoint is not null)
            {
                // The checkpoint's own recipe, with the training flags given here over it (e.g. --data for an imported model);
                // its tokenizer is the checkpoint's own.
                if (Tokenizer is not null || Compact is not null)
                    throw new UserError("--tokenizer and --compact set an initialisation's tokenizer; a checkpoint's export keeps its own");
                using var trained = ModelSources.Open(Checkpoint, Model, CPU, "fp32", log: Console.Error.WriteLine);
                var recipe = Settings.Apply(this, trained.Options) with { Model = trained.Model.Spec.Name, FineTune = trained.Options.FineTune && Data is null };
                string? cache = null;
                if (recipe.FineTune)
                    Console.Error.WriteLine($"note: {trained.Label} is fine-tuned on instruction examples, which train.py does not read: the export records no token cache (train.py needs --cache DIR to continue pre-training; or give --data here)");
                else
                {
                    trained.UseData(Data, recipe.Seq, recipe.Packing);
                    using var data = trained.OpenData(Console.Error.WriteLine);
                    cache = data.Directory;
                    var corpus = trained.CorpusOptions();
                    recipe = recipe with { Data = corpus.Data, Tokenizer = corpus.Tokenizer, Compact = corpus.Compact };
                }
                var run = PyTorchRunOptions.For(trained.Model, recipe, trained.Step, cache, trained.Tokenizer.EndOfText);
                PyTorchExport.Write(trained.Model, PyTorch!, options with { Run = run, Tokenizer = trained.Tokenizer });
            }
            else
            {
                // At initialisation: train's options and its initialisation (the same weights `lnsrun train` starts from),
                // the token cache prepared as train prepares it and recorded, so that train.py needs nothing else.
                var entry = ModelCatalog.Get(Model ?? LnsDsl.Models.Zoo.Default);
                var train = Settings.Apply(this, new TrainOptions()) with { Model = entry.Name };
                Trainer.Validate(train);
                using var data = Trainer.OpenCorpus(train, entry.Spec, Console.Error.WriteLine);
                using var model = Trainer.Initialise(entry, train.Seed);
                var run = PyTorchRunOptions.For(model, train, 0, data.Data.Directory, data.Tokenizer.EndOfText);
                PyTorchExport.Write(model, PyTorch!, options with { Run = run, Tokenizer = data.Tokenizer });
            }
            Console.WriteLine($"wrote {PyTorch}");
            return 0;
        }
    }
}
