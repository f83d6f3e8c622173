using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LnsDsl.Data
{
    /// <summary>The continuation task's sizes: sentences of context, choices per item, how many of each file.</summary>
    public sealed record ContinuationTaskOptions
    {
        /// <summary>Sentences before the one to continue with.</summary>
        public int Context { get; init; } = 2;
        /// <summary>Choices per task item: the true next sentence and this many minus one distractors.</summary>
        public int Choices { get; init; } = 4;
        /// <summary>Fine-tuning examples (at most; from the training documents).</summary>
        public int Examples { get; init; } = 4000;
        /// <summary>Task items (at most; from the validation documents).</summary>
        public int Items { get; init; } = 500;
        public long Seed { get; init; }
        /// <summary>Sentences shorter or longer than this (characters) are not used.</summary>
        public int MinChars { get; init; } = 20;
        public int MaxChars { get; init; } = 300;
    }

    /// <summary>What <see cref="ContinuationTask.Write"/> wrote: the fine-tuning examples, the task with distractors from
    /// other documents, and the word-order task (distractors: the true sentence's words shuffled).</summary>
    public sealed record ContinuationTaskFiles(string ExamplesPath, string TaskPath, string OrderTaskPath, int Examples, int Items, int OrderItems, int TrainWindows, int ValidWindows);

    /// <summary>
    /// A next-sentence task built from a corpus whose documents hold one sentence per line (the Brown corpus): the
    /// prompt is <see cref="ContinuationTaskOptions.Context"/> consecutive sentences, the response the sentence that
    /// follows them. Fine-tuning examples (<c>{"prompt", "response"}</c>) come from the training documents; task items
    /// (LnsDsl's <c>plain</c> layout, the context rendered as fine-tuning renders a prompt) from the validation
    /// documents, which the corpus split (<see cref="HeldOut"/>) keeps out of pre-training. A distractor is a sentence
    /// from another validation document of similar length (0.8 to 1.25 times the answer's characters where there are
    /// enough), so that length alone does not give the answer away. A second task file asks only about word order:
    /// the same contexts, the answer against its own words shuffled. Deterministic for a seed.
    /// </summary>
    public static class ContinuationTask
    {
        public const string ExamplesFile = "continuation-sft.jsonl", TaskFile = "continuation-task.jsonl", OrderTaskFile = "continuation-order-task.jsonl";

        private sealed record Window(int Document, string[] Context, string Next);

        /// <summary>Apostrophes and quotes as themselves (JSON stays valid; the files stay readable).</summary>
        private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        public static ContinuationTaskFiles Write(CorpusData corpus, string directory, ContinuationTaskOptions o)
        {
            if (o.Context < 1) throw new SettingError("{Context} must be at least 1");
            if (o.Choices < 2) throw new SettingError("{Choices} must be at least 2");
            if (o.Examples < 1 || o.Items < 1) throw new SettingError("{Examples} and {Items} must be at least 1");
            if (corpus.Documents.Count < HeldOut.Every)
                throw new UserError($"the continuation task needs at least {HeldOut.Every} documents, so that its items come from documents held out of pre-training ({corpus.Description} has {corpus.Documents.Count})");

            var train = new List<Window>();
            var valid = new List<Window>();
            for (int d = 0; d < corpus.Documents.Count; d++)
            {
                var lines = corpus.Documents[d].Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
                for (int j = o.Context; j < lines.Length; j++)
                {
                    var window = lines[(j - o.Context)..(j + 1)];
                    if (window.Any(l => l.Length < o.MinChars || l.Length > o.MaxChars)) continue;
                    (HeldOut.Is(d) ? valid : train).Add(new Window(d, window[..^1], window[^1]));
                }
            }
            var validDocuments = valid.Select(w => w.Document).Distinct().Count();
            if (train.Count == 0 || valid.Count < o.Choices || validDocuments < 2)
                throw new UserError($"{corpus.Description} gives {train.Count} training and {valid.Count} validation windows of {o.Context + 1} consecutive lines " +
                                    $"({o.MinChars}-{o.MaxChars} characters each) in {validDocuments} validation documents: the continuation task needs documents with one sentence per line (e.g. --data brown)");

            var rng = new Random(unchecked((int)o.Seed));
            var examples = Shuffled(train, rng).Take(o.Examples).ToList();
            var items = Shuffled(valid, rng).Take(o.Items).ToList();

            var exampleLines = examples.Select(w => JsonSerializer.Serialize(new { prompt = Prompt(w), response = w.Next }, Json));
            var itemLines = items.Select(w =>
            {
                var distractors = Distractors(w, valid, o.Choices - 1, rng);
                int label = rng.Next(o.Choices);
                var choices = distractors.ToList();
                choices.Insert(label, w.Next);
                return JsonSerializer.Serialize(new { context = InstructionData.PromptContext(Prompt(w)), choices, label }, Json);
            }).ToList();

            // The word-order task: the same items, the distractors the answer's own words in other orders (same words,
            // same length: only the order tells them apart). Answers too short for enough distinct orders are left out.
            var orderLines = new List<string>();
            foreach (var w in items)
            {
                // The answer with single spaces, as the shuffles are joined: spacing must not tell them apart.
                string answer = string.Join(" ", w.Next.Split(' ', StringSplitOptions.RemoveEmptyEntries));
                var distractors = Shuffles(answer, o.Choices - 1, rng);
                if (distractors is null) continue;
                int label = rng.Next(o.Choices);
                distractors.Insert(label, answer);
                orderLines.Add(JsonSerializer.Serialize(new { context = InstructionData.PromptContext(Prompt(w)), choices = distractors, label }, Json));
            }

            Directory.CreateDirectory(directory);
            string examplesPath = Path.Combine(directory, ExamplesFile), taskPath = Path.Combine(directory, TaskFile), orderPath = Path.Combine(directory, OrderTaskFile);
            AtomicFile.WriteAllText(examplesPath, string.Join("\n", exampleLines) + "\n");
            AtomicFile.WriteAllText(taskPath, string.Join("\n", itemLines) + "\n");
            AtomicFile.WriteAllText(orderPath, string.Join("\n", orderLines) + "\n");
            return new ContinuationTaskFiles(examplesPath, taskPath, orderPath, examples.Count, items.Count, orderLines.Count, train.Count, valid.Count);
        }

        private static string Prompt(Window w) => string.Join(" ", w.Context);

        /// <summary>Distinct sentences of other validation documents, of similar length where enough exist.</summary>
        private static List<string> Distractors(Window w, List<Window> pool, int count, Random rng)
        {
            var others = pool.Where(x => x.Document != w.Document && x.Next != w.Next).Select(x => x.Next).Distinct().ToList();
            var similar = others.Where(s => s.Length >= 0.8 * w.Next.Length && s.Length <= 1.25 * w.Next.Length).ToList();
            var from = similar.Count >= count ? similar : others;
            if (from.Count < count) throw new UserError($"too few sentences in other validation documents for {count} distractors; lower --choices");
            return Shuffled(from, rng).Take(count).ToList();
        }

        /// <summary><paramref name="count"/> distinct reorderings of the sentence's words, none the sentence itself, the
        /// first and last words kept in place (a capital letter or the final full stop must not give the answer away);
        /// null when it has too few words for them (fewer than 5).</summary>
        private static List<string>? Shuffles(string sentence, int count, Random rng)
        {
            var words = sentence.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 5) return null;
            var seen = new HashSet<string> { string.Join(" ", words) };
            var result = new List<string>();
            for (int attempt = 0; attempt < 50 * count && result.Count < count; attempt++)
            {
                var middle = Shuffled(words[1..^1], rng);
                string shuffled = string.Join(" ", middle.Prepend(words[0]).Append(words[^1]));
                if (seen.Add(shuffled)) result.Add(shuffled);
            }
            return result.Count == count ? result : null;
        }

        /// <summary>Fisher-Yates with the given generator (a copy; the input is left as it is).</summary>
        private static List<T> Shuffled<T>(IReadOnlyList<T> items, Random rng)
        {
            var list = items.ToList();
            for (int i = list.Count - 1; i > 0; i--)
            {
                int k = rng.Next(i + 1);
                (list[i], list[k]) = (list[k], list[i]);
            }
            return list;
        }
    }
}
