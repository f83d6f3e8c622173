using System;
using CommandLine;
using LnsDsl.Interop;

namespace LnsDsl.Cli.Verbs
{
    [Verb("import", HelpText = "Print the LnsDsl declaration that reproduces a Hugging Face checkpoint's architecture (what --hf compiles and runs).")]
    public sealed class ImportVerb : Verb
    {
        [Option("hf", Required = true, HelpText = "A Hugging Face checkpoint directory (config.json).")]
        public string Hf { get; set; } = "";

        [Option("out", HelpText = "Also write the declaration to this .cs file.")]
        public string? Out { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Out" };

        public override object[] Records() => Array.Empty<object>();

        public override int Run()
        {
            string source = HuggingFace.Declaration(Hf);
            Console.Write(source);
            if (Out is not null)
            {
                AtomicFile.WriteAllText(Out, source);
                Console.Error.WriteLine($"wrote {Out}");
            }
            return 0;
        }
    }
}
