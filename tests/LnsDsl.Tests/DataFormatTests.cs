using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using LnsDsl.Data;
using Parquet;
using Parquet.Schema;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.Tests
{
    /// <summary>
    /// The field's data formats: Parquet files and Hugging Face dataset directories (streamed row group by row group into
    /// the token cache), nanoGPT's uint16 token files, the token-file writer they share, and the progress line.
    /// </summary>
    public sealed class DataFormatTests : IDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-formats-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");
        /// <summary>Unique text per test run: each test's cache directories (keyed by content) are its own.</summary>
        private readonly string _salt = Guid.NewGuid().ToString("N")[..8];

        public DataFormatTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(Path.GetTempPath(), "lnsdsl-test-cache"));
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        /// <summary>Writes a Parquet file: an <c>id</c> column and the text column, one row group per array.</summary>
        private static void WriteParquet(string path, IEnumerable<string?[]> rowGroups, string column = "text")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var id = new DataField<int>("id");
            var text = new DataField<string>(column);
            using var stream = File.Create(path);
            var writer = ParquetWriter.CreateAsync(new ParquetSchema(id, text), stream).GetAwaiter().GetResult();
            int next = 0;
            foreach (var rows in rowGroups)
            {
                using var group = writer.CreateRowGroup();
                var ids = Enumerable.Range(next, rows.Length).ToArray();
                next += rows.Length;
                group.WriteAsync<int>(id, ids.AsMemory()).GetAwaiter().GetResult();
                group.WriteAsync(text, rows, null).GetAwaiter().GetResult();
            }
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        private string Sentence(int i) => $"document {i} of {_salt}: the quick brown fox {i % 7} jumps over {i % 13} lazy dogs.";

        private static List<string> Decoded(TokenStream stream, ITextTokenizer tokenizer)
        {
            var docs = new List<string>();
            var buffer = new long[1 << 16];
            for (int d = 0; d < stream.Documents; d++)
            {
                var (start, length) = stream.Document(d);
                stream.Read(start, buffer.AsSpan(0, (int)length));
                docs.Add(tokenizer.Decode(buffer.Take((int)length).Select(x => (int)x)));
            }
            return docs;
        }

        private static List<long[]> Ids(TokenStream stream)
        {
            var docs = new List<long[]>();
            for (int d = 0; d < stream.Documents; d++)
            {
                var (start, length) = stream.Document(d);
                var ids = new long[length];
                stream.Read(start, ids);
                docs.Add(ids);
            }
            return docs;
        }

        [Fact]
        public void The_writer_streams_the_format_the_reader_verifies()
        {
            string path = Path.Combine(_dir, "w.lnstok");
            var docs = new[] { new[] { 1, 2, 3 }, Array.Empty<int>(), new[] { 70000, 5 } }; // 4-byte ids
            using (var file = File.Create(path))
            {
                var writer = new TokenStreamWriter(file, endOfText: 0, vocabSize: 70001);
                foreach (var d in docs) writer.Add(d);
                Assert.Equal(3 + 1 + 0 + 1 + 2 + 1, writer.Count);
                writer.Complete();
            }
            using var stream = TokenStream.Open(path);
            Assert.Equal(3, stream.Documents);
            Assert.Equal(docs.Select(d => d.Select(x => (long)x).ToArray()), Ids(stream));
            // The same documents through TokenStream.Write: byte for byte the same file.
            string other = Path.Combine(_dir, "w2.lnstok");
            TokenStream.Write(other, docs, 0, 70001);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(other));
        }

        [Fact]
        public void A_parquet_file_is_read_from_its_named_column_and_a_missing_column_is_named()
        {
            string file = Path.Combine(_dir, "small.parquet");
            var rows = Enumerable.Range(0, 45).Select(Sentence).ToArray();
            WriteParquet(file, new[] { rows[..20], rows[20..30], rows[30..] }, column: "content");
            var e = Assert.Throws<UserError>(() => DataSet.Prepare(file, "bytes", 0));
            Assert.Contains("no column 'text'", e.Message);
            Assert.Contains("id, content", e.Message);
            Assert.Contains("--text-column", e.Message);

            using var data = DataSet.Prepare(file + "#content", "bytes", 0);
            var train = Decoded(data.Train, data.Tokenizer);
            var valid = Decoded(data.Valid, data.Tokenizer);
            Assert.Equal(rows.Where((_, i) => !HeldOut.Is(i)), train);
            Assert.Equal(rows.Where((_, i) => HeldOut.Is(i)), valid);
            Assert.Contains("column 'content'", data.Description);
        }

        /// <summary>A Hugging Face dataset directory above the streaming threshold: its train shards only, streamed, and the
        /// token cache equal, id for id (compaction included), to the in-memory build of the same documents from a .jsonl file.</summary>
        [Theory]
        [InlineData(0)]
        [InlineData(40)]
        public void A_hugging_face_dataset_directory_streams_into_the_same_cache_as_the_same_text_in_memory(int compact)
        {
            string root = Path.Combine(_dir, "dataset");
            var rows = Enumerable.Range(0, 1500).Select(Sentence).Select((t, i) => i % 97 == 5 ? null : i % 101 == 7 ? "   " : t).ToArray();
            WriteParquet(Path.Combine(root, "data", "train-00000-of-00002.parquet"), new[] { rows[..400], rows[400..800] });
            WriteParquet(Path.Combine(root, "data", "train-00001-of-00002.parquet"), new[] { rows[800..] });
            WriteParquet(Path.Combine(root, "data", "test-00000-of-00001.parquet"), new[] { new[] { "a test-split row that must not be read " + _salt } });
            var text = rows.Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r!).ToList();
            string jsonl = Path.Combine(_dir, "same.jsonl");
            File.WriteAllLines(jsonl, text.Select(t => System.Text.Json.JsonSerializer.Serialize(new { text = t })));

            using var streamed = DataSet.Prepare(root, "bytes", compact);
            using var inMemory = DataSet.Prepare(jsonl, "bytes", compact);
            Assert.NotEqual(inMemory.Directory, streamed.Directory);
            Assert.Equal(Ids(inMemory.Train), Ids(streamed.Train));
            Assert.Equal(Ids(inMemory.Valid), Ids(streamed.Valid));
            Assert.Equal(Tokenizers.Serialize(inMemory.Tokenizer), Tokenizers.Serialize(streamed.Tokenizer));
            Assert.Equal(text.Count, streamed.Train.Documents + streamed.Valid.Documents);
            Assert.DoesNotContain(Decoded(streamed.Train, streamed.Tokenizer), d => d.Contains("test-split"));
            Assert.False(File.Exists(Path.Combine(streamed.Directory, "train.base.lnstok")), "the base-id files of compaction are removed");
            // A run's own tokenizer (eval of a run) finds the cache training built from these files instead of reading them again.
            using (var evaluated = DataSet.Prepare(root, streamed.Tokenizer)) Assert.Equal(streamed.Directory, evaluated.Directory);

            // Keyed by content: the same files elsewhere are the same cache; one changed row is another.
            string copy = Path.Combine(_dir, "copy");
            foreach (var f in Directory.GetFiles(root, "*.parquet", SearchOption.AllDirectories))
            {
                string target = Path.Combine(copy, Path.GetRelativePath(root, f));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(f, target);
            }
            using (var again = DataSet.Prepare(copy, "bytes", compact)) Assert.Equal(streamed.Key, again.Key);
            rows[3] = "a changed row " + _salt;
            WriteParquet(Path.Combine(copy, "data", "train-00000-of-00002.parquet"), new[] { rows[..400], rows[400..800] });
            using (var changed = DataSet.Prepare(copy, "bytes", compact)) Assert.NotEqual(streamed.Key, changed.Key);
        }

        [Fact]
        public void Damaged_parquet_files_are_refused_with_the_file_named_and_no_cache_is_left()
        {
            string good = Path.Combine(_dir, "good.parquet");
            WriteParquet(good, new[] { Enumerable.Range(0, 1200).Select(Sentence).ToArray() });
            byte[] bytes = File.ReadAllBytes(good);
            var random = new Random(5);
            string cache = Path.Combine(Environment.GetEnvironmentVariable("LNSDSL_CACHE")!, "tokens");
            var before = Directory.Exists(cache) ? Directory.GetDirectories(cache).ToHashSet() : new HashSet<string>();
            int refused = 0;
            for (int trial = 0; trial < 40; trial++)
            {
                var damaged = (byte[])bytes.Clone();
                if (trial % 2 == 0) damaged = damaged[..random.Next(0, damaged.Length)]; // truncated
                else for (int k = 0; k < 8; k++) damaged[random.Next(damaged.Length)] = (byte)random.Next(256); // bytes flipped
                string path = Path.Combine(_dir, $"damaged-{trial}.parquet");
                File.WriteAllBytes(path, damaged);
                try
                {
                    using var data = DataSet.Prepare(path, "bytes", 0);
                    // Flipped bytes inside the text itself still make a valid file: then it must read as text.
                    Assert.True(data.Train.Documents > 0);
                }
                catch (UserError e)
                {
                    refused++;
                    Assert.Contains(path, e.Message);
                }
            }
            _output.WriteLine($"{refused} of 40 damaged files refused with a UserError, the rest read as valid Parquet");
            Assert.True(refused >= 20, $"only {refused} of 40 damaged files were refused");
            var after = Directory.Exists(cache) ? Directory.GetDirectories(cache) : Array.Empty<string>();
            Assert.All(after.Where(d => !before.Contains(d)), d => Assert.True(File.Exists(Path.Combine(d, "complete")), $"{d}: an incomplete cache was left"));
        }

        private static void WriteNanoGpt(string dir, IEnumerable<int[]> train, IEnumerable<int[]> valid, int endOfText)
        {
            Directory.CreateDirectory(dir);
            foreach (var (name, docs) in new[] { ("train.bin", train), ("val.bin", valid) })
            {
                var ids = docs.SelectMany(d => d.Append(endOfText)).ToArray();
                var bytes = new byte[ids.Length * 2];
                for (int i = 0; i < ids.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), (ushort)ids[i]);
                File.WriteAllBytes(Path.Combine(dir, name), bytes);
            }
        }

        [Fact]
        public void NanoGpt_token_files_are_read_with_gpt2_and_refused_otherwise()
        {
            var gpt2 = Tokenizers.Create("gpt2");
            Assert.Equal(50257, gpt2.VocabSize);
            Assert.Equal(50256, gpt2.EndOfText);
            var texts = Enumerable.Range(0, 30).Select(Sentence).ToList();
            string dir = Path.Combine(_dir, "nanogpt");
            WriteNanoGpt(dir, texts.Take(25).Select(gpt2.Encode), texts.Skip(25).Select(gpt2.Encode), gpt2.EndOfText);

            using (var data = DataSet.Prepare("nanogpt:" + dir, "gpt2", 0))
            {
                Assert.Equal(texts.Take(25), Decoded(data.Train, data.Tokenizer));
                Assert.Equal(texts.Skip(25), Decoded(data.Valid, data.Tokenizer));
            }
            using (var compacted = DataSet.Prepare("nanogpt:" + dir, "gpt2", 300))
            {
                // Fewer distinct ids than 300 in this text: every one is kept (plus end-of-text and unknown), so it decodes exactly.
                int distinct = texts.Take(25).SelectMany(gpt2.Encode).Distinct().Count();
                Assert.Equal(distinct + 2, compacted.Tokenizer.VocabSize);
                Assert.Equal(texts.Take(25), Decoded(compacted.Train, compacted.Tokenizer));
            }
            var wrong = Assert.Throws<UserError>(() => DataSet.Prepare("nanogpt:" + dir, "bytes", 0));
            Assert.Contains("--tokenizer gpt2", wrong.Message);
            Assert.Contains("val.bin", Assert.Throws<UserError>(() => DataSet.Prepare("nanogpt:" + Path.Combine(_dir, "nowhere"), "gpt2", 0)).Message);
            File.WriteAllBytes(Path.Combine(dir, "val.bin"), new byte[] { 1, 2, 3 });
            Assert.Contains("odd number of bytes", Assert.Throws<UserError>(() => DataSet.Prepare("nanogpt:" + dir, "gpt2", 0)).Message);
            WriteNanoGpt(dir, new[] { new[] { 60000 } }, new[] { new[] { 1 } }, gpt2.EndOfText);
            Assert.Contains("token id 60000", Assert.Throws<UserError>(() => DataSet.Prepare("nanogpt:" + dir, "gpt2", 0)).Message);
        }

        [Fact]
        public void Data_sources_are_recorded_absolute_with_their_column()
        {
            string file = Path.Combine(_dir, "rec.parquet");
            WriteParquet(file, new[] { new[] { Sentence(1) } });
            string relative = Path.GetRelativePath(Environment.CurrentDirectory, file);
            Assert.Equal(file + "#body", Corpus.Normalize(Corpus.WithColumn(relative, "body")));
            Assert.Equal("nanogpt:" + Path.GetFullPath(_dir), Corpus.Normalize("nanogpt:" + Path.GetRelativePath(Environment.CurrentDirectory, _dir)));
            Assert.Contains("not Parquet data", Assert.Throws<UserError>(() => Corpus.WithColumn("builtin", "body")).Message);
            Assert.Equal(file, Corpus.Normalize(Corpus.WithColumn(file, "text"))); // the default column: the path alone, as without --text-column
            // A text directory with a stray .parquet file is still a text directory.
            string mixed = Path.Combine(_dir, "mixed");
            Directory.CreateDirectory(mixed);
            File.WriteAllText(Path.Combine(mixed, "a.jsonl"), "{\"text\": \"hello\"}\n");
            File.Copy(file, Path.Combine(mixed, "stray.parquet"));
            Assert.False(ParquetText.Is(mixed));
        }

        [Fact]
        public void The_progress_line_shows_rows_rate_and_time_left()
        {
            var line = new ProgressLine("tokenising", 2_000_000_000, null);
            string text = line.Format(812_345, 500_000_000, TimeSpan.FromSeconds(20));
            Assert.Contains("812,345 rows", text);
            Assert.Contains("500.0/2,000.0 MB", text);
            Assert.Contains("25.0 MB/s", text);
            Assert.Contains("ETA 1:00", text);
            Assert.Contains("[#####---------------]", text);
            var writer = new StringWriter();
            var logged = new ProgressLine("tokenising", 100, writer, terminal: false);
            logged.Report(1, 10); // the first report draws; the next, within ten seconds, does not
            logged.Report(2, 20);
            Assert.Single(writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            logged.Done(3, 100);
            Assert.Contains("100%", writer.ToString());
            Assert.Contains("done in", writer.ToString());
        }
    }
}
