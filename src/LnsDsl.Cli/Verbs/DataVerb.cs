using System;
using System.Globalization;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Data;

namespace LnsDsl.Cli.Verbs
{
    [Verb("data", HelpText = "fetch | prepare | stats: get the built-in corpora, tokenise a corpus into the cache, report token counts.")]
    public sealed class DataVerb : Verb, IDataOptions
    {
        [Value(0, MetaName = "ACTION", Required = true, HelpText = "fetch, prepare or stats.")]
        public string Action { get; set; } = "";

        public string? Data { get; set; }
        public string? Tokenizer { get; set; }
        public int? Compact { get; set; }

        public override object[] Records() => new object[] { new DataOptions() };

        public override int Run()
        {
            var o = Settings.Apply(this, new DataOptions());
            switch (Action)
            {
                case "fetch":
                    foreach (var name in o.Data is null or "builtin" ? new[] { "brown", "nlp-corpus" } : new[] { o.Data })
                        Console.WriteLine($"{name}: {Corpus.Fetch(name)}");
                    return 0;
                case "prepare":
                case "stats":
                    using (var data = DataSet.Prepare(o.Data, o.Tokenizer, o.Compact, Console.Error.WriteLine))
                    {
                        var c = CultureInfo.InvariantCulture;
                        Console.WriteLine($"data:      {data.Description}");
                        Console.WriteLine($"tokenizer: {data.Tokenizer.Name} ({data.Tokenizer.VocabSize} ids)");
                        Console.WriteLine($"cache:     {data.Directory}");
                        Console.WriteLine(string.Format(c, "train:     {0,12:N0} tokens in {1,6:N0} documents", data.Train.Count, data.Train.Documents));
                        Console.WriteLine(string.Format(c, "valid:     {0,12:N0} tokens in {1,6:N0} documents", data.Valid.Count, data.Valid.Documents));
                    }
                    return 0;
                default:
                    throw new UserError($"unknown data action '{Action}'; use fetch, prepare or stats");
            }
        }
    }
}
