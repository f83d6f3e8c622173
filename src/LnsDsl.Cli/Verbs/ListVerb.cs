using System;
using CommandLine;

namespace LnsDsl.Cli.Verbs
{
    [Verb("list", HelpText = "List the models in the catalogue.")]
    public sealed class ListVerb : Verb
    {
        public override object[] Records() => Array.Empty<object>();

        public override int Run()
        {
            Console.Write(CatalogTable.Format(ModelCatalog.All));
            return 0;
        }
    }
}
