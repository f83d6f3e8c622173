using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Tests.Models;
using LnsDsl.Training;
using Xunit;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Multiple-choice tasks (<c>lnsrun eval --tasks</c>): the readers, the prompts, the scoring.</summary>
    public sealed class TaskTests
    {
        private const string ArcAi2 = "{\"id\": \"Mercury_1\", \"question\": {\"stem\": \"Which is a gas?\", \"choices\": [{\"text\": \"rock\", \"label\": \"A\"}, {\"text\": \"steam\", \"label\": \"B\"}, {\"text\": \"ice\", \"label\": \"C\"}]}, \"answerKey\": \"B\"}";
        private const string ArcHf = "{\"id\": \"x\", \"question\": \"Which is hot?\", \"choices\": {\"text\": [\"snow\", \"fire\"], \"label\": [\"1\", \"2\"]}, \"answerKey\": \"2\"}";
        private const string Piqa = "{\"goal\": \"Open a jar\", \"sol1\": \"twist the lid\", \"sol2\": \"eat the lid\", \"label\": 0}";
        private const string HellaSwag = "{\"activity_label\": \"Baking cookies\", \"ctx_a\": \"A woman mixes dough.\", \"ctx_b\": \"SHE\", \"ctx\": \"ignored\", \"endings\": [\"puts it [title] in the oven.\", \"sings  [header] loudly.\"], \"label\": \"1\"}";
        private const string BoolQ = "{\"question\": \"is the sky blue\", \"passage\": \"The sky is blue.\", \"answer\": true}";
        private const string Mmlu = "{\"question\": \" What is 2+2? \", \"choices\": [\"3\", \"4\", \"5\", \"6\"], \"answer\": \"B\", \"subject\": \"math\"}";

        private static IReadOnlyList<TaskItem> Parse(string format, params string[] lines) => TaskReader.Parse(lines, "t.jsonl", format, out _);

        [Fact]
        public void Each_layout_is_recognised_and_templated_as_documented()
        {
            void Check(string line, string format, string context, string[] choices, int gold)
            {
                var items = TaskReader.Parse(new[] { line }, "t.jsonl", null, out string recognised);
                Assert.Equal(format, recognised);
                Assert.Equal(context, items[0].Context);
                Assert.Equal(choices, items[0].Choices);
                Assert.Equal(gold, items[0].Gold);
                var forced = Parse(format, line)[0]; // forcing the format gives the same
                Assert.Equal((items[0].Context, items[0].Gold), (forced.Context, forced.Gold));
                Assert.Equal(items[0].Choices, forced.Choices);
            }
            Check(ArcAi2, "arc", "Question: Which is a gas?\nAnswer:", new[] { "rock", "steam", "ice" }, 1);
            Check(ArcHf, "arc", "Question: Which is hot?\nAnswer:", new[] { "snow", "fire" }, 1);
            Check(Piqa, "piqa", "Question: Open a jar\nAnswer:", new[] { "twist the lid", "eat the lid" }, 0);
            Check(HellaSwag, "hellaswag", "Baking cookies: A woman mixes dough. She", new[] { "puts it. in the oven.", "sings  loudly." }, 1); // one pass of "  " -> " ", as Python's str.replace: three spaces leave two
            Check("{\"ctx\": \"A man [step] runs.\", \"endings\": [\"far\"], \"label\": 0}", "hellaswag", "A man runs.", new[] { "far" }, 0);
            Check(BoolQ, "boolq", "The sky is blue.\nQuestion: is the sky blue?\nAnswer:", new[] { "no", "yes" }, 1);
            Check("{\"question\": \"q\", \"passage\": \"p\", \"label\": 0}", "boolq", "p\nQuestion: q?\nAnswer:", new[] { "no", "yes" }, 0);
            Check(Mmlu, "mmlu", "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", new[] { "A", "B", "C", "D" }, 1);
            Check("{\"question\": \"q\", \"choices\": [\"x\", \"y\", \"z\", \"w\"], \"answer\": 3}", "mmlu", "q\nA. x\nB. y\nC. z\nD. w\nAnswer:", new[] { "A", "B", "C", "D" }, 3);
        }

        [Theory]
        [InlineData("not json", "not a JSON object")]
        [InlineData("[1, 2]", "not a JSON object but an array")]
        [InlineData("{\"goal\": \"g\", \"sol1\": \"a\", \"label\": 0}", "missing field \"sol2\"")]
        [InlineData("{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 2}", "gold answer 2 is out of range")]
        [InlineData("{\"question\": \"q\", \"choices\": [], \"answer\": 0}", "no choices")]
        [InlineData("{\"question\": \"q\", \"choices\": {\"text\": [\"a\"], \"label\": [\"A\"]}, \"answerKey\": \"E\"}", "answerKey 'E' is not one of the labels A")]
        [InlineData("{\"ctx\": \"c\", \"endings\": \"e\", \"label\": 0}", "\"endings\" must be an array")]
        [InlineData("{\"question\": \"q\", \"passage\": \"p\", \"answer\": \"yes\"}", "\"answer\" must be true or false")]
        [InlineData("{\"foo\": 1}", "the layout is not one of")]
        public void A_bad_line_is_reported_with_the_file_and_line_number(string bad, string message)
        {
            var error = Assert.Throws<UserError>(() => TaskReader.Parse(new[] { "", bad }, "tasks.jsonl", null, out _));
            Assert.StartsWith("tasks.jsonl:2: ", error.Message);
            Assert.Contains(message, error.Message);
            if (bad.Contains("\"goal\""))
            {
                error = Assert.Throws<UserError>(() => TaskReader.Parse(new[] { Piqa, "", bad }, "tasks.jsonl", "piqa", out _));
                Assert.StartsWith("tasks.jsonl:3: ", error.Message);
            }
            Assert.Contains(message, error.Message);
        }

        [Fact]
        public void A_file_of_one_layout_rejects_a_line_of_another_and_unknown_formats_are_refused()
        {
            var error = Assert.Throws<UserError>(() => TaskReader.Parse(new[] { Piqa, BoolQ }, "mixed.jsonl", null, out _));
            Assert.StartsWith("mixed.jsonl:2: missing field \"goal\"", error.Message);
            Assert.Throws<SettingError>(() => TaskReader.Parse(new[] { Piqa }, "x.jsonl", "squad", out _));
            Assert.Contains("no items", Assert.Throws<UserError>(() => TaskReader.Parse(new[] { "", " " }, "empty.jsonl", null, out _)).Message);
        }

        /// <summary>Thousands of mutated lines: each parses or is a UserError; nothing else escapes.</summary>
        [Fact]
        public void Fuzzed_lines_either_parse_or_throw_a_user_error()
        {
            var valid = new[] { ArcAi2, ArcHf, Piqa, HellaSwag, BoolQ, Mmlu };
            const string alphabet = "{}[]\":,. 0123456789-eEtruefalsnl\\u\"ABCD";
            var random = new Random(20240601);
            int parsed = 0, refused = 0;
            for (int n = 0; n < 6000; n++)
            {
                var text = new StringBuilder(valid[random.Next(valid.Length)]);
                int mutations = 1 + random.Next(4);
                for (int m = 0; m < mutations && text.Length > 0; m++)
                {
                    int at = random.Next(text.Length);
                    switch (random.Next(6))
                    {
                        case 0: text.Remove(at, Math.Min(text.Length - at, 1 + random.Next(8))); break;
                        case 1: text.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                        case 2: text[at] = alphabet[random.Next(alphabet.Length)]; break;
                        case 3: text.Length = at; break;
                        case 4: { int len = Math.Min(text.Length - at, 1 + random.Next(12)); text.Insert(random.Next(text.Length), text.ToString(at, len)); break; }
                        default: text.Insert(at, new[] { "null", "true", "[]", "{}", "-1", "99", "\"\"", "1.5", "\"\\ud800\"" }[random.Next(9)]); break;
                    }
                }
                string? format = random.Next(3) == 0 ? TaskReader.Formats[random.Next(TaskReader.Formats.Count)] : null;
                try
                {
                    var items = TaskReader.Parse(new[] { text.ToString() }, "fuzz.jsonl", format, out _);
                    Assert.All(items, i => Assert.InRange(i.Gold, 0, i.Choices.Count - 1));
                    parsed++;
                }
                catch (UserError e)
                {
                    Assert.StartsWith(text.ToString().Trim().Length == 0 ? "fuzz.jsonl: no items" : "fuzz.jsonl:1: ", e.Message);
                    refused++;
                }
                catch (Exception e)
                {
                    Assert.Fail($"{e.GetType().Name} escaped for format {format ?? "(recognised)"} and line {text}: {e.Message}");
                }
            }
            Assert.True(parsed > 100 && refused > 100, $"parsed {parsed}, refused {refused}: the mutations are too mild or too harsh");
        }

        [Fact]
        public void The_k_shot_context_is_the_documented_one()
        {
            var items = Parse("piqa",
                "{\"goal\": \"g0\", \"sol1\": \"a0\", \"sol2\": \"b0\", \"label\": 0}",
                "{\"goal\": \"g1\", \"sol1\": \"a1\", \"sol2\": \"b1\", \"label\": 1}",
                "{\"goal\": \"g2\", \"sol1\": \"a2\", \"sol2\": \"b2\", \"label\": 0}",
                "{\"goal\": \"g3\", \"sol1\": \"a3\", \"sol2\": \"b3\", \"label\": 1}");
            Assert.Equal("Question: g2\nAnswer:", TaskScorer.Context(items, 2, 0));
            // The rule, independently: Random(index), partial Fisher–Yates over the other indices in order.
            for (int i = 0; i < items.Count; i++)
            {
                var others = Enumerable.Range(0, items.Count).Where(j => j != i).ToArray();
                var random = new Random(i);
                var shots = new List<string>();
                for (int s = 0; s < 2; s++)
                {
                    int pick = random.Next(s, others.Length);
                    (others[s], others[pick]) = (others[pick], others[s]);
                    shots.Add($"Question: g{others[s]}\nAnswer: {(others[s] % 2 == 0 ? "a" : "b")}{others[s]}");
                }
                Assert.Equal(string.Join("\n\n", shots) + $"\n\nQuestion: g{i}\nAnswer:", TaskScorer.Context(items, i, 2));
            }
            Assert.Equal("Question: g3\nAnswer: b3\n\nQuestion: g1\nAnswer: b1\n\nQuestion: g2\nAnswer: a2\n\nQuestion: g0\nAnswer:", TaskScorer.Context(items, 0, 3));
            Assert.Throws<SettingError>(() => TaskScorer.Context(items, 0, 4));
        }

        /// <summary>lm-eval's acc_norm divides by len(choice) of doc_to_choice: characters, no delimiter. Each case here is
        /// decided the other way by the rule LnsDsl had before (UTF-8 bytes of " " + choice).</summary>
        [Theory]
        [InlineData("boolq", -2.2, -3.2, 1)]   // "no" 2, "yes" 3: -1.100 < -1.067 -> yes; with the space -0.733 > -0.800 -> no
        [InlineData("plain", -2.0, -1.8, 1)]   // "éé" 2 chars (4 bytes), "ab" 2: -1.0 < -0.9 -> ab; by bytes with the space -0.4 > -0.6 -> éé
        public void Acc_norm_divides_by_the_characters_of_the_choice_without_the_delimiter(string format, double first, double second, int expected)
        {
            var item = format == "boolq"
                ? Parse("boolq", BoolQ)[0]
                : Parse("plain", "{\"context\": \"c\", \"choices\": [\"\u00e9\u00e9\", \"ab\"], \"label\": 0}")[0];
            var ll = new[] { first, second };
            var (_, norm) = TaskScorer.Predict(item, ll);
            double Lns(int c) => ll[c] / System.Text.Encoding.UTF8.GetByteCount(item.Continuation(c));
            double LmEval(int c) => ll[c] / item.Choices[c].EnumerateRunes().Count();
            Assert.Equal(expected, norm);
            Assert.Equal(expected, LmEval(0) >= LmEval(1) ? 0 : 1);
            Assert.NotEqual(expected, Lns(0) >= Lns(1) ? 0 : 1); // the old rule decides this item differently
        }

        [Fact]
        public void Scores_match_a_hand_computation_with_the_forward_pass()
        {
            using var model = new TinyByteLns(3);
            var tokenizer = Tokenizers.Create("bytes");
            using var trained = TrainedModel.Of(model, tokenizer, new TrainOptions { Tokenizer = "bytes", Compact = 0 }, "test", "tiny");
            var set = new TaskSet("mix", "mix.jsonl", "arc", Parse(null!,
                ArcAi2, ArcHf,
                "{\"question\": \"A much longer question that needs more than thirty-two bytes of context, surely?\", \"choices\": {\"text\": [\"é\", \"a long answer with many bytes\", \"x\"], \"label\": [\"A\", \"B\", \"C\"]}, \"answerKey\": \"C\"}",
                "{\"question\": \"q\", \"choices\": {\"text\": [\"yes\", \"no\"], \"label\": [\"A\", \"B\"]}, \"answerKey\": \"A\"}"));
            var result = TaskScorer.Score(trained, set, shots: 1, batch: 2);
            var again = TaskScorer.Score(trained, set, shots: 1, batch: 1); // other batch compositions, other padding
            int right = 0, rightNorm = 0;
            for (int i = 0; i < set.Items.Count; i++)
            {
                var item = set.Items[i];
                string context = TaskScorer.Context(set.Items, i, 1);
                var expected = new double[item.Choices.Count];
                for (int c = 0; c < item.Choices.Count; c++)
                {
                    using var scope = NewDisposeScope();
                    var ids = tokenizer.Encode(context + item.Continuation(c)).Select(t => (long)t).ToArray();
                    int contextLength = tokenizer.Encode(context).Length;
                    using var noGrad = no_grad();
                    var logp = model.forward(tensor(ids[..^1]).reshape(1, -1)).log_softmax(-1)[0];
                    for (int t = contextLength; t < ids.Length; t++) expected[c] += logp[t - 1, ids[t]].item<float>();
                    Assert.Equal(expected[c], result.Items[i].LogLikelihoods[c], 1e-4);
                    Assert.Equal(expected[c], again.Items[i].LogLikelihoods[c], 1e-4);
                }
                int best = Array.IndexOf(expected, expected.Max());
                var norm = expected.Select((l, c) => l / item.Choices[c].EnumerateRunes().Count()).ToArray(); // characters of the choice, no delimiter
                int bestNorm = Array.IndexOf(norm, norm.Max());
                Assert.Equal((best, bestNorm), (result.Items[i].Predicted, result.Items[i].PredictedNorm));
                right += best == item.Gold ? 1 : 0;
                rightNorm += bestNorm == item.Gold ? 1 : 0;
            }
            Assert.Equal((4, right / 4.0, rightNorm / 4.0), (result.N, result.Acc, result.AccNorm));
            Assert.Equal(Math.Sqrt(result.Acc * (1 - result.Acc) / 3), result.AccStderr, 1e-12);
        }

        [Fact]
        public void A_context_longer_than_the_window_keeps_its_last_tokens()
        {
            using var model = new TinyByteLns(3);
            var tokenizer = Tokenizers.Create("bytes");
            using var trained = TrainedModel.Of(model, tokenizer, new TrainOptions { Tokenizer = "bytes", Compact = 0 }, "test", "tiny");
            int window = model.Spec.MaxSeq;
            string tail = new string('b', window - 4);
            var requests = new[] { (new string('a', window * 2) + tail, " yes"), ("zz" + tail, " yes") };
            var ll = TaskScorer.LogLikelihoods(trained, requests, batch: 2);
            // Both keep the same last window + 1 tokens ("ab…b yes" and "zb…b yes" differ only in the first, which is input only).
            using var noGrad = no_grad();
            var ids = tokenizer.Encode("a" + tail + " yes").Select(t => (long)t).ToArray();
            var logp = model.forward(tensor(ids[..^1]).reshape(1, -1)).log_softmax(-1)[0];
            double expected = 0;
            for (int t = ids.Length - 4; t < ids.Length; t++) expected += logp[t - 1, ids[t]].item<float>();
            Assert.Equal(expected, ll[0], 1e-4);
            Assert.True(double.IsFinite(ll[1]));
        }
    }
}
