using System;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Experiments;
using LnsDsl.Models;

namespace LnsDsl.Cli.Verbs
{
    [Verb("bench", HelpText = "Speed of a model's generated code: training and forward tokens/s, PaLM model FLOPs, the matmul ceiling measured in the same run, MFU, the speed ratio to the unfused composition run side by side, a step profile, resident memory.")]
    public sealed class BenchVerb : DeviceVerb, IBatchOption, ISeqOption, ISeedOption
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: " + Zoo.Default + "). 'lnsrun list' shows them.")]
        public string Model { get; set; } = Zoo.Default;

        [Option("warmup", HelpText = "Untimed training steps of each model first.")]
        public int? Warmup { get; set; }

        [Option("repetitions", HelpText = "Timed repetitions (generated and unfused alternate within each).")]
        public int? Repetitions { get; set; }

        [Option("steps", HelpText = "Training steps (and forward passes) per repetition.")]
        public int? Steps { get; set; }

        [Option("no-unfused", HelpText = "Skip the unfused composition.")]
        public bool NoUnfused { get; set; }

        [Option("memory-steps", HelpText = "Then train this many more steps, sampling resident memory (e.g. 500 for the flatness check).")]
        public int? MemorySteps { get; set; }

        [Option("norms", HelpText = "Instead: the same Pre-LN model with LayerNorm, RMSNorm (+ bias) and CRMSNorm side by side, training and inference tokens/s (docs/NORMS.md).")]
        public bool Norms { get; set; }

        [Option("json", HelpText = "Also write the figures to this JSON file.")]
        public string? Json { get; set; }

        public int? Batch { get; set; }
        public int? Seq { get; set; }
        public long? Seed { get; set; }

        public override object[] Records() => new object[] { new BenchOptions() };

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Norms" };

        public override int Run()
        {
            var options = Settings.Apply(this, new BenchOptions()) with { Model = Model };
            if (Norms)
            {
                var norms = NormBench.Run(options, Console.Error.WriteLine);
                Console.Write(NormBench.Format(norms));
                if (Json is not null)
                {
                    AtomicFile.WriteAllText(Json, NormBench.ToJson(norms));
                    Console.WriteLine($"wrote {Json}");
                }
                return 0;
            }
            if (NoUnfused) options = options with { Unfused = false };
            var result = new Bench(options, Console.Error.WriteLine).Run();
            Console.Write(Bench.Format(result));
            if (Json is not null)
            {
                AtomicFile.WriteAllText(Json, Bench.ToJson(result));
                Console.WriteLine($"wrote {Json}");
            }
            return 0;
        }
    }
}
