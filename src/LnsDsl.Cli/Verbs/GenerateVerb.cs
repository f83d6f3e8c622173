using System;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Evaluation;
using LnsDsl.Interop;
using LnsDsl.Loading;

namespace LnsDsl.Cli.Verbs
{
    [Verb("generate", HelpText = "Sample text from a checkpoint.")]
    public sealed class GenerateVerb : DeviceVerb, IModelSourceOptions, ITokenizerOption, ISeedOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: the one the checkpoint records).")]
        public string? Model { get; set; }

        [Option("prompt", HelpText = "The text to continue.")]
        public string Prompt { get; set; } = "";

        [Option("max-tokens", HelpText = "Tokens to generate at most.")]
        public int? MaxTokens { get; set; }

        [Option("temperature", HelpText = "Sampling temperature (0: greedy).")]
        public double? Temperature { get; set; }

        [Option("top-k", HelpText = "Sample among the k most likely tokens (0: off).")]
        public int? TopK { get; set; }

        [Option("top-p", HelpText = "Nucleus sampling mass (1: off).")]
        public double? TopP { get; set; }

        public string? Checkpoint { get; set; }
        public string? Hf { get; set; }
        public string? Tokenizer { get; set; }
        public long? Seed { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Tokenizer" };

        public override object[] Records() => new object[] { new SampleOptions() };

        public override int Run()
        {
            var options = Settings.Apply(this, new SampleOptions());
            if (options.MaxTokens < 1) throw new SettingError("{MaxTokens} must be at least 1");
            var device = Devices.Resolve(options.Device);
            using var trained = ModelSources.Open(Checkpoint, Hf, Model, options.Device, options.Dtype, Tokenizer, Console.Error.WriteLine);
            var prompt = trained.Tokenizer.Encode(Prompt);
            var ids = Sampler.Generate(trained.Model, prompt, trained.Tokenizer.EndOfText, options, device);
            Console.WriteLine(Prompt + trained.Tokenizer.Decode(ids));
            return 0;
        }
    }
}
