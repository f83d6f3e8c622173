using System;
using System.Globalization;
using CommandLine;
using LnsDsl.Cli.Options;
using LnsDsl.Data;

namespace LnsDsl.Cli.Verbs
{
    [Verb("data", HelpText = "fetch | prepare | stats | continuation: get the built-in corpora, tokenise a corpus into the cache, report token counts, build the next-sentence fine-tuning data and task (docs/TASKS.md).")]
    public sealed class DataVerb : Verb, IDataOptions, ISeedOption
    {
        [Value(0, MetaName = "ACTION", Required = true, HelpText = "fetch, prepare, stats or continuation.")]
        public string Action { get; set; } = "";

        public string? Data { get; set; }
        public string? TextColumn { get; set; }
        public string? Tokenizer { get; set; }
        public int? Compact { get; set; }
        public long? Seed { get; set; }

        [Option("out", HelpText = "continuation: the directory for continuation-sft.jsonl, continuation-task.jsonl and continuation-order-task.jsonl.")]
        public string? Out { get; set; }

        [Option("examples", HelpText = "continuation: fine-tuning examples to write (from the training documents).")]
        public int? Examples { get; set; }

        [Option("items", HelpText = "continuation: task items to write (from the validation documents).")]
        public int? Items { get; set; }

        [Option("choices", HelpText = "continuation: choices per task item (the true next sentence and distractors).")]
        public int? Choices { get; set; }

        [Option("context", HelpText = "continuation: sentences of context before the one to choose.")]
        public int? Context { get; set; }

        public override System.Collections.Generic.IReadOnlyCollection<string> Inputs => new[] { "Out" };

        public override object[] Records() => new object[] { new DataOptions(), new ContinuationTaskOptions() };

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
                case "continuation":
                {
                    if (Out is null) throw new UserError("data continuation writes two files: give --out DIR");
                    var task = Settings.Apply(this, new ContinuationTaskOptions());
                    var corpus = Corpus.Load(o.Data ?? "brown");
                    var files = ContinuationTask.Write(corpus, Out, task);
                    Console.WriteLine($"data:     {corpus.Description} ({corpus.Documents.Count} documents)");
                    Console.WriteLine($"examples: {files.ExamplesPath}: {files.Examples} of {files.TrainWindows} windows of the training documents");
                    Console.WriteLine($"task:     {files.TaskPath}: {files.Items} items of {files.ValidWindows} windows of the validation documents, {task.Choices} choices each");
                    Console.WriteLine($"order:    {files.OrderTaskPath}: {files.OrderItems} of those items, the answer against its own words shuffled");
                    return 0;
                }
                default:
                    throw new UserError($"unknown data action '{Action}'; use fetch, prepare, stats or continuation");
            }
        }
    }
}
