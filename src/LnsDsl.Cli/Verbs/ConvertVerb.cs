using System;
using System.Globalization;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Interop;
using LnsDsl.Loading;
using LnsDsl.Loading.Conversion;

namespace LnsDsl.Cli.Verbs
{
    [Verb("convert", HelpText = "Convert a Pre-LN LayerNorm checkpoint into the exactly equivalent Pre-RMSNorm or Pre-CRMSNorm one, or back (docs/NORMS.md).")]
    public sealed class ConvertVerb : Verb, IModelSourceOptions
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records; if given, it must be that one).")]
        public string? Model { get; set; }

        public string? Checkpoint { get; set; }
        public string? Hf { get; set; }

        [Option("to", Required = true, HelpText = "rmsnorm (RMSNorm with a bias on a zero-mean stream), crmsnorm (the stream in Hidden - 1 coordinates) or layernorm (back).")]
        public string To { get; set; } = "";

        [Option("out", Required = true, HelpText = "The new run directory (must not exist): the converted checkpoint, the run's options and tokenizer.")]
        public string Out { get; set; } = "";

        [Option("untie", HelpText = "Give a tied model an untied head (a copy of the embedding as the original used it); needed to convert a tied model.")]
        public bool Untie { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Checkpoint", "Hf", "To", "Out", "Untie" };

        public override object[] Records() => Array.Empty<object>();

        public override int Run()
        {
            if (Hf is not null) throw new UserError("convert works on a run's checkpoint (--checkpoint RUN); the Hugging Face families it reads are RMSNorm models already");
            if (Checkpoint is null) throw new UserError("convert needs --checkpoint RUN (a run directory or one of its checkpoints)");
            var target = NormConversion.Parse(To);
            var kind = ModelSources.KindOf(Checkpoint);
            if (kind != CheckpointKind.Run)
                throw new UserError($"convert rewrites an lnsrun run (its weights, optimiser state and records); '{Checkpoint}' is {(kind == CheckpointKind.PyTorch ? "a PyTorch export: convert the run it was exported from, then export that" : "a Hugging Face checkpoint, whose families are RMSNorm models already")}");
            string recorded = Runs.Checkpoint.PeekState(Runs.Checkpoint.Resolve(Checkpoint)).Model;
            if (Model is not null && Model != recorded)
                throw new UserError($"'{Checkpoint}' holds {recorded}, not {Model}; leave MODEL out or give {recorded}");
            var result = NormConversion.Convert(Checkpoint, Out, target, Untie, Console.Error.WriteLine);
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} -> {1} at step {2}: {3} (largest logit difference {4:E2})",
                result.From, result.To, result.Step, result.Out, result.MaxLogitDifference));
            return 0;
        }
    }
}
