using System;
using CommandLine;
using LnsDsl.Models;

namespace LnsDsl.Cli.Verbs
{
    [Verb("describe", HelpText = "Print a model's resolved architecture, block by block.")]
    public sealed class DescribeVerb : Verb
    {
        [Value(0, MetaName = "MODEL", HelpText = "Model class name (default: " + Zoo.Default + "). 'lnsrun list' shows them.")]
        public string Model { get; set; } = Zoo.Default;

        public override object[] Records() => Array.Empty<object>();

        public override int Run()
        {
            Console.Write(ModelCatalog.Get(Model).Spec.Describe());
            return 0;
        }
    }
}
