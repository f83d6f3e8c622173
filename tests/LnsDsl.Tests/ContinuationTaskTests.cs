using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using Xunit;

namespace LnsDsl.Tests
{
    /// <summary>The continuation task built from a corpus: where its examples and items come from, what they say.</summary>
    public sealed class ContinuationTaskTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-continuation-" + Guid.NewGuid().ToString("N"));

        public void Dispose()
        {
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        /// <summary>40 documents of 12 sentences; sentence k of document d says so, with a length that varies.</summary>
        private static CorpusData Corpus(int documents = 40, int sentences = 12)
        {
            var docs = Enumerable.Range(0, documents).Select(d => string.Join("\n", Enumerable.Range(0, sentences)
                .Select(k => $"Document {d} sentence {k} says" + string.Concat(Enumerable.Repeat(" more", (d * 7 + k * 3) % 9)) + "."))).ToList();
            return new CorpusData(docs, "synthetic", "fingerprint");
        }

        private static (int Document, int Sentence) Where(string sentence)
        {
            var words = sentence.Split(' ');
            return (int.Parse(words[1]), int.Parse(words[3]));
        }

        [Fact]
        public void Examples_come_from_training_documents_and_items_from_held_out_ones_with_the_true_next_sentence_as_gold()
        {
            var files = ContinuationTask.Write(Corpus(), _dir, new ContinuationTaskOptions { Examples = 50, Items = 15, Context = 2, Choices = 4 });
            Assert.Equal(50, files.Examples);
            Assert.Equal(15, files.Items);
            Assert.Equal(38 * 10, files.TrainWindows); // 38 training documents, sentences 2..11 each
            Assert.Equal(2 * 10, files.ValidWindows);  // documents 19 and 39

            foreach (var example in InstructionData.Read(files.ExamplesPath))
            {
                var (prompt, response) = example.Turns.Single();
                var (d, k) = Where(response);
                Assert.False(HeldOut.Is(d));
                // Rendered by the template (User: ...\n): the two sentences before the response, in order.
                Assert.StartsWith($"User: Document {d} sentence {k - 2} says", prompt);
                Assert.Contains($". Document {d} sentence {k - 1} says", prompt);
            }

            var set = TaskReader.Read(files.TaskPath);
            Assert.Equal("plain", set.Format);
            Assert.Equal(15, set.Items.Count);
            var labels = new HashSet<int>();
            foreach (var item in set.Items)
            {
                Assert.Equal(4, item.Choices.Count);
                var (d, k) = Where(item.Choices[item.Gold].Trim());
                Assert.True(HeldOut.Is(d), $"an item from training document {d}");
                // The context is the fine-tuning template around the two sentences before the gold one.
                var before = item.Context.Split('\n')[0]["User: ".Length..];
                Assert.StartsWith($"Document {d} sentence {k - 2} says", before);
                Assert.Contains($" Document {d} sentence {k - 1} says", before);
                Assert.EndsWith("\nAssistant:", item.Context);
                // Distractors: other held-out documents, never the answer.
                foreach (var (choice, i) in item.Choices.Select((c, i) => (c, i)).Where(x => x.i != item.Gold))
                {
                    var (od, _) = Where(choice.Trim());
                    Assert.True(HeldOut.Is(od));
                    Assert.NotEqual(d, od);
                }
                labels.Add(item.Gold);
            }
            Assert.True(labels.Count >= 3, "the gold choice's position does not vary");

            // The word-order task: the same contexts, the answer against distinct reorderings of its own words.
            var order = TaskReader.Read(files.OrderTaskPath);
            Assert.Equal(files.OrderItems, order.Items.Count);
            Assert.True(order.Items.Count >= 10);
            foreach (var item in order.Items)
            {
                string Sorted(string s) => string.Join(" ", s.Trim().Split(' ').Order(StringComparer.Ordinal));
                Assert.Equal(4, item.Choices.Select(c => c.Trim()).Distinct().Count());
                Assert.All(item.Choices, c => Assert.Equal(Sorted(item.Choices[item.Gold]), Sorted(c)));
                // First and last words stay in place: only the order inside differs.
                Assert.Single(item.Choices.Select(c => c.Trim().Split(' ')[0]).Distinct());
                Assert.Single(item.Choices.Select(c => c.Trim().Split(' ')[^1]).Distinct());
                var (d, k) = Where(item.Choices[item.Gold].Trim());
                Assert.True(HeldOut.Is(d));
                Assert.Contains($"Document {d} sentence {k - 1} says", item.Context);
            }
        }

        [Fact]
        public void Distractors_have_a_similar_length_where_there_are_enough()
        {
            var files = ContinuationTask.Write(Corpus(documents: 100), _dir, new ContinuationTaskOptions { Items = 40 });
            foreach (var item in TaskReader.Read(files.TaskPath).Items)
            {
                int gold = item.Choices[item.Gold].Length;
                Assert.All(item.Choices, c => Assert.InRange(c.Length, 0.8 * gold - 1e-9, 1.25 * gold + 1e-9));
            }
        }

        [Fact]
        public void The_files_are_the_same_for_a_seed_and_differ_for_another()
        {
            var o = new ContinuationTaskOptions { Examples = 40, Items = 20 };
            string Bytes(string dir, long seed)
            {
                var f = ContinuationTask.Write(Corpus(), Path.Combine(_dir, dir), o with { Seed = seed });
                return File.ReadAllText(f.ExamplesPath) + File.ReadAllText(f.TaskPath);
            }
            Assert.Equal(Bytes("a", 3), Bytes("b", 3));
            Assert.NotEqual(Bytes("a", 3), Bytes("c", 4));
        }

        [Fact]
        public void A_corpus_the_task_cannot_be_built_from_is_refused_by_name_and_nothing_is_written()
        {
            var few = Assert.Throws<UserError>(() => ContinuationTask.Write(Corpus(documents: 10), _dir, new ContinuationTaskOptions()));
            Assert.Contains("at least 20 documents", few.Message);
            var oneLine = new CorpusData(Enumerable.Range(0, 40).Select(d => $"Document {d} is a single long line of text.").ToList(), "one line each", "f");
            var lines = Assert.Throws<UserError>(() => ContinuationTask.Write(oneLine, _dir, new ContinuationTaskOptions()));
            Assert.Contains("one sentence per line", lines.Message);
            var setting = Assert.Throws<SettingError>(() => ContinuationTask.Write(Corpus(), _dir, new ContinuationTaskOptions { Choices = 1 }));
            Assert.Contains("Choices", setting.Settings);
            Assert.False(Directory.Exists(_dir));
        }
    }
}
