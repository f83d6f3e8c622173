using System;
using System.IO;
using System.Linq;
using LnsDsl.Analysis;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Experiments;
using LnsDsl.Runs;
using LnsDsl.Training;
using Xunit;

namespace LnsDsl.Tests
{
    /// <summary>Tokenisers, the token cache and its split, the schedule and the batches.</summary>
    [Collection("Console")]
    public sealed class TrainingLibraryTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-lib-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");

        public TrainingLibraryTests() => Directory.CreateDirectory(_dir);

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            Directory.Delete(_dir, recursive: true);
        }

        private const string Text = "LayerNorm Scaling — 1/√l — keeps deep layers useful. Ünïcödé, tabs\tand\nnew lines.";

        [Theory]
        [InlineData("bytes")]
        [InlineData("cl100k")]
        [InlineData("o200k")]
        public void Tokenizers_round_trip_text(string spec)
        {
            var t = Tokenizers.Create(spec);
            var ids = t.Encode(Text);
            Assert.All(ids, id => Assert.InRange(id, 0, t.VocabSize - 1));
            Assert.Equal(Text, t.Decode(ids));
            Assert.InRange(t.EndOfText, 0, t.VocabSize - 1);
        }

        [Fact]
        public void A_compacted_vocabulary_keeps_the_most_frequent_tokens_and_round_trips_through_a_file()
        {
            var baseTokenizer = Tokenizers.Create("cl100k");
            var docs = new[] { "the cat sat on the mat", "the dog sat on the log", "the end" }.Select(baseTokenizer.Encode).ToList();
            var compact = CompactedTokenizer.Fit(baseTokenizer, docs, 8);
            Assert.Equal(8, compact.VocabSize);
            Assert.Equal(baseTokenizer.Encode("the")[0], compact.Kept[0]); // the most frequent token first
            Assert.Equal(" sat on the", compact.Decode(compact.Encode(" sat on the")));
            var unknown = compact.Encode("zebra");
            Assert.All(unknown, id => Assert.Equal(compact.Unknown, id));
            Assert.Contains('\uFFFD', compact.Decode(unknown));

            string path = Path.Combine(_dir, "tokenizer.json");
            Tokenizers.Save(compact, path);
            var loaded = Tokenizers.Load(path);
            Assert.Equal(compact.Name, loaded.Name);
            Assert.Equal(compact.Encode("the dog sat"), loaded.Encode("the dog sat"));
        }

        private string Corpus(int documents)
        {
            string dir = Path.Combine(_dir, "corpus" + documents);
            Directory.CreateDirectory(dir);
            for (int d = 0; d < documents; d++)
                File.WriteAllText(Path.Combine(dir, $"{d:D3}.txt"), $"document {d}: " + string.Concat(Enumerable.Repeat($"words of {d} ", 20)));
            return dir;
        }

        [Fact]
        public void The_split_is_deterministic_and_every_20th_document_is_validation()
        {
            string corpus = Corpus(40);
            string[] Hashes(string cache)
            {
                Environment.SetEnvironmentVariable("LNSDSL_CACHE", cache);
                using var data = DataSet.Prepare(corpus, "bytes", 0);
                Assert.Equal(38, data.Train.Documents);
                Assert.Equal(2, data.Valid.Documents);
                var (start, length) = data.Valid.Document(0);
                var head = new long[12];
                data.Valid.Read(start, head);
                Assert.Equal("document 19:", data.Tokenizer.Decode(head.Select(i => (int)i)));
                Assert.Equal(data.Tokenizer.EndOfText, Read(data.Valid, start + length));
                return new[] { Checkpoint.Sha(data.Train.Path), Checkpoint.Sha(data.Valid.Path) };
            }
            Assert.Equal(Hashes(Path.Combine(_dir, "a")), Hashes(Path.Combine(_dir, "b")));
        }

        private static long Read(TokenStream s, long at)
        {
            var one = new long[1];
            s.Read(at, one);
            return one[0];
        }

        [Fact]
        public void A_damaged_token_file_is_detected()
        {
            string path = Path.Combine(_dir, "t.lnstok");
            TokenStream.Write(path, new[] { new[] { 1, 2, 3 }, new[] { 4, 5 } }, endOfText: 9, vocabSize: 10);
            using (var ok = TokenStream.Open(path))
            {
                Assert.Equal(7, ok.Count);
                Assert.Equal((4L, 2L), ok.Document(1)); // after 3 tokens and an end-of-text
            }
            var bytes = File.ReadAllBytes(path);
            bytes[70] ^= 1;
            File.WriteAllBytes(path, bytes);
            Assert.Contains("checksum mismatch", Assert.Throws<UserError>(() => TokenStream.Open(path)).Message);
            File.WriteAllBytes(path, bytes[..^3]);
            Assert.Contains("truncated", Assert.Throws<UserError>(() => TokenStream.Open(path)).Message);
        }

        [Fact]
        public void The_schedule_warms_up_linearly_then_decays_by_cosine_to_a_tenth()
        {
            Assert.Equal(0.1e-3, LearningRate.At(1, 100, 10, 1e-3), 12);
            Assert.Equal(1e-3, LearningRate.At(10, 100, 10, 1e-3), 12);
            Assert.Equal(0.55e-3, LearningRate.At(55, 100, 10, 1e-3), 12); // half way through the decay
            Assert.Equal(0.1e-3, LearningRate.At(100, 100, 10, 1e-3), 12);
        }

        [Fact]
        public void Document_batches_pad_and_ignore_the_padding()
        {
            string path = Path.Combine(_dir, "d.lnstok");
            TokenStream.Write(path, new[] { new[] { 1, 2, 3 }, new[] { 4, 5, 6, 7, 8, 9 } }, endOfText: 0, vocabSize: 10);
            using var s = TokenStream.Open(path);
            var (x, y) = Batches.Fixed(s, Packing.Document, 0, 2, 5, 0);
            Assert.Equal(new long[] { 1, 2, 3, 0, 0, 4, 5, 6, 7, 8 }, x.data<long>().ToArray());
            Assert.Equal(new long[] { 2, 3, 0, Batches.Ignore, Batches.Ignore, 5, 6, 7, 8, 9 }, y.data<long>().ToArray());
            var (px, py) = Batches.Fixed(s, Packing.Pack, 0, 1, 4, 0);
            Assert.Equal(new long[] { 1, 2, 3, 0 }, px.data<long>().ToArray());
            Assert.Equal(new long[] { 2, 3, 0, 4 }, py.data<long>().ToArray());
            Assert.Equal(Batches.ForStep(5, 7).Next(), Batches.ForStep(5, 7).Next());
            // The same in every process (a per-process randomised hash here would make resumed runs draw other data).
            Assert.Equal(1571065501, Batches.ForStep(5, 7).Next());
            Assert.NotEqual(Batches.ForStep(5, 7).Next(), Batches.ForStep(5, 8).Next());
        }
    }
}
