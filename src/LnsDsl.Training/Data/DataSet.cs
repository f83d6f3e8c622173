using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;

namespace LnsDsl.Data
{
    /// <summary>
    /// A corpus tokenised into cached train and validation splits. The split is deterministic: with 20 or more
    /// documents every 20th document (index 19, 39, ...) is validation; with fewer, the last 10% of the tokens.
    /// The cache key covers the text, the tokenizer and the compaction, so a change in any rebuilds it.
    /// </summary>
    public sealed class DataSet : IDisposable
    {
        private const int Format = 1;

        private DataSet(string directory, string key, string corpusFingerprint, ITextTokenizer tokenizer, TokenStream train, TokenStream valid, string description)
        {
            Directory = directory;
            Key = key;
            CorpusFingerprint = corpusFingerprint;
            Tokenizer = tokenizer;
            Train = train;
            Valid = valid;
            Description = description;
        }

        /// <summary>The token cache directory.</summary>
        public string Directory { get; }
        /// <summary>The cache key: a hash of the cache format, the corpus's fingerprint, the tokenizer and the compaction.</summary>
        public string Key { get; }
        /// <summary>A hash of the corpus's documents.</summary>
        public string CorpusFingerprint { get; }
        public ITextTokenizer Tokenizer { get; }
        public TokenStream Train { get; }
        public TokenStream Valid { get; }
        public string Description { get; }

        /// <param name="source">Data source (see <see cref="Corpus"/>).</param>
        /// <param name="tokenizerSpec">bytes, cl100k, o200k or spm:PATH.</param>
        /// <param name="compactTo">Compact the vocabulary to this many ids (0: no compaction).</param>
        /// <param name="log">Progress messages.</param>
        public static DataSet Prepare(string? source, string tokenizerSpec, int compactTo, Action<string>? log = null)
        {
            if (ParquetText.Is(source) || NanoGptData.Is(source))
            {
                var streamedTokenizer = Tokenizers.Create(tokenizerSpec);
                return PrepareStreamed(source!, streamedTokenizer, compactTo >= streamedTokenizer.VocabSize ? 0 : compactTo, fixedTokenizer: false, log);
            }
            return PrepareCorpus(Corpus.Load(source), Tokenizers.Create(tokenizerSpec), compactTo, log);
        }

        private static DataSet PrepareCorpus(CorpusData corpus, ITextTokenizer baseTokenizer, int compactTo, Action<string>? log)
        {
            if (compactTo >= baseTokenizer.VocabSize) compactTo = 0;
            string key = Hash($"{Format}|{corpus.Fingerprint}|{baseTokenizer.Name}|{compactTo}");
            string dir = Path.Combine(Corpus.CacheDirectory, "tokens", key.Substring(0, 16));
            if (!File.Exists(Path.Combine(dir, "complete")))
            {
                log?.Invoke($"tokenizing {corpus.Documents.Count} documents ({corpus.Characters:N0} characters) with {baseTokenizer.Name} into {dir} ...");
                Build(corpus, baseTokenizer, compactTo, dir);
            }
            var tokenizer = Tokenizers.Load(Path.Combine(dir, "tokenizer.json"));
            var train = TokenStream.Open(Path.Combine(dir, "train.lnstok"));
            var valid = TokenStream.Open(Path.Combine(dir, "valid.lnstok"));
            return new DataSet(dir, key, corpus.Fingerprint, tokenizer, train, valid, corpus.Description);
        }

        /// <summary>
        /// <paramref name="source"/> tokenised with exactly <paramref name="tokenizer"/> (a trained model's own, compacted
        /// or not: its ids are the model's, whatever text is measured), cached under a key of the corpus and the
        /// tokenizer's saved form.
        /// </summary>
        public static DataSet Prepare(string? source, ITextTokenizer tokenizer, Action<string>? log = null)
        {
            if (ParquetText.Is(source) || NanoGptData.Is(source)) return PrepareStreamed(source!, tokenizer, 0, fixedTokenizer: true, log);
            return PrepareCorpus(Corpus.Load(source), tokenizer, log);
        }

        private static DataSet PrepareCorpus(CorpusData corpus, ITextTokenizer tokenizer, Action<string>? log)
        {
            string key = Hash($"{Format}|{corpus.Fingerprint}|tokenizer:{Hash(Tokenizers.Serialize(tokenizer))}");
            string dir = Path.Combine(Corpus.CacheDirectory, "tokens", key.Substring(0, 16));
            if (!File.Exists(Path.Combine(dir, "complete")))
            {
                log?.Invoke($"tokenizing {corpus.Documents.Count} documents ({corpus.Characters:N0} characters) with {tokenizer.Name} into {dir} ...");
                Build(corpus, tokenizer, 0, dir);
            }
            var train = TokenStream.Open(Path.Combine(dir, "train.lnstok"));
            var valid = TokenStream.Open(Path.Combine(dir, "valid.lnstok"));
            return new DataSet(dir, key, corpus.Fingerprint, Tokenizers.Load(Path.Combine(dir, "tokenizer.json")), train, valid, corpus.Description);
        }

        /// <summary>The data for a model: compaction -1 compacts to the model's vocabulary.</summary>
        public static DataSet ForModel(string? source, string tokenizerSpec, int compact, ModelSpec spec, Action<string>? log = null)
            => Prepare(source, tokenizerSpec, compact < 0 ? spec.Vocab : compact, log);

        private static void Build(CorpusData corpus, ITextTokenizer baseTokenizer, int compactTo, string dir)
        {
            var encoded = new int[corpus.Documents.Count][];
            Parallel.For(0, encoded.Length, i => encoded[i] = baseTokenizer.Encode(corpus.Documents[i]));
            List<int[]> train, valid;
            if (encoded.Length >= HeldOut.Every)
            {
                train = encoded.Where((_, i) => !HeldOut.Is(i)).ToList();
                valid = encoded.Where((_, i) => HeldOut.Is(i)).ToList();
            }
            else
            {
                var all = encoded.SelectMany(d => d.Append(baseTokenizer.EndOfText)).ToArray();
                int cut = (int)(all.Length * 0.9);
                train = new List<int[]> { all[..cut] };
                valid = new List<int[]> { all[cut..] };
            }
            ITextTokenizer tokenizer = baseTokenizer;
            if (compactTo > 0)
            {
                var compacted = CompactedTokenizer.Fit(baseTokenizer, train, compactTo); // fitted on training text only
                train = train.Select(compacted.Map).ToList();
                valid = valid.Select(compacted.Map).ToList();
                tokenizer = compacted;
            }

            StagedDirectory.Write(dir, staging => // an incomplete cache (no "complete" marker) is rebuilt: replace
            {
                TokenStream.Write(Path.Combine(staging, "train.lnstok"), train, tokenizer.EndOfText, tokenizer.VocabSize);
                TokenStream.Write(Path.Combine(staging, "valid.lnstok"), valid, tokenizer.EndOfText, tokenizer.VocabSize);
                Tokenizers.Save(tokenizer, Path.Combine(staging, "tokenizer.json"));
                File.WriteAllText(Path.Combine(staging, "source.json"), JsonSerializer.Serialize(new
                {
                    corpus.Description, corpus.Fingerprint, documents = corpus.Documents.Count, tokenizer = tokenizer.Name,
                    train_documents = train.Count, valid_documents = valid.Count,
                }));
                File.WriteAllText(Path.Combine(staging, "complete"), "");
            }, replace: true);
        }

        /// <summary>Below this many rows a Parquet source is read whole and split as any corpus (the last 10% under 20 documents).</summary>
        private const long StreamingRows = 1000;

        /// <summary>
        /// Parquet (and Hugging Face dataset directories) and nanoGPT's token files: tokenised as they are read, written
        /// document by document into the cache (<see cref="TokenStreamWriter"/>), so that memory holds a batch of documents
        /// and the cache's document offsets, whatever the corpus's size. Every 20th non-empty row is validation (nanoGPT: its
        /// val.bin). Compaction counts the training ids while writing the base ids, then maps the written files.
        /// </summary>
        private static DataSet PrepareStreamed(string source, ITextTokenizer tokenizer, int compactTo, bool fixedTokenizer, Action<string>? log)
        {
            bool nanoGpt = NanoGptData.Is(source);
            string fingerprint, description;
            ParquetText? parquet = null;
            string? nanoDir = null;
            var baseTokenizer = tokenizer is CompactedTokenizer c ? c.Base : tokenizer;
            if (nanoGpt)
            {
                nanoDir = NanoGptData.DirectoryOf(source);
                if (baseTokenizer.Name != "gpt2")
                    throw new UserError($"{source} holds GPT-2 token ids; read it with --tokenizer gpt2 (this run's tokenizer is {tokenizer.Name})");
                log?.Invoke($"hashing {nanoDir}/{NanoGptData.TrainFile} and {NanoGptData.ValidFile} ...");
                fingerprint = NanoGptData.Fingerprint(nanoDir);
                description = $"nanoGPT token files in {nanoDir}";
            }
            else
            {
                parquet = ParquetText.Open(source);
                log?.Invoke($"hashing {parquet.Files.Count} Parquet file(s), {parquet.TotalBytes / 1e6:N1} MB ...");
                fingerprint = parquet.Fingerprint();
                description = $"Parquet column '{parquet.Column}' of {(parquet.Files.Count == 1 ? parquet.Files[0] : $"{parquet.Files.Count} files in {Path.GetFullPath(parquet.Path)}")}";
                if (parquet.Rows() < StreamingRows)
                {
                    var documents = parquet.Documents().Select(d => d.Text).Where(t => !string.IsNullOrWhiteSpace(t)).Select(t => t!).ToList();
                    if (documents.Count == 0) throw new UserError($"column '{parquet.Column}' of {source} holds no text");
                    var small = new CorpusData(documents, description, fingerprint);
                    return fixedTokenizer ? PrepareCorpus(small, tokenizer, log) : PrepareCorpus(small, tokenizer, compactTo, log);
                }
            }
            string key = fixedTokenizer
                ? Hash($"{Format}|{fingerprint}|tokenizer:{Hash(Tokenizers.Serialize(tokenizer))}")
                : Hash($"{Format}|{fingerprint}|{tokenizer.Name}|{compactTo}");
            string dir = Path.Combine(Corpus.CacheDirectory, "tokens", key.Substring(0, 16));
            // A run's own tokenizer (eval, analyze of a run) finds the cache its training built from the same files: the
            // same ids, without reading a corpus that may be tens of gigabytes again.
            if (fixedTokenizer && !File.Exists(Path.Combine(dir, "complete")) && Built(fingerprint, Tokenizers.Serialize(tokenizer)) is { } built)
                dir = built;
            if (!File.Exists(Path.Combine(dir, "complete")))
            {
                log?.Invoke($"tokenising {description} with {tokenizer.Name} into {dir} ...");
                var progress = new ProgressLine(nanoGpt ? "reading" : "tokenising", nanoGpt ? TotalBytes(nanoDir!) : parquet!.TotalBytes, log is null ? null : Console.Error);
                StagedDirectory.Write(dir, staging =>
                {
                    // The ids written first: the final ones, or the base tokenizer's when compaction maps them afterwards.
                    bool compact = !fixedTokenizer && compactTo > 0;
                    var writing = compact ? baseTokenizer : tokenizer;
                    long[]? counts = compact ? new long[baseTokenizer.VocabSize] : null;
                    string trainPath = Path.Combine(staging, compact ? "train.base.lnstok" : "train.lnstok");
                    string validPath = Path.Combine(staging, compact ? "valid.base.lnstok" : "valid.lnstok");
                    long documents = 0;
                    using (var trainFile = File.Create(trainPath))
                    using (var validFile = File.Create(validPath))
                    {
                        var train = new TokenStreamWriter(trainFile, writing.EndOfText, writing.VocabSize);
                        var valid = new TokenStreamWriter(validFile, writing.EndOfText, writing.VocabSize);
                        void Write(int[] ids, bool validation)
                        {
                            if (validation) { valid.Add(ids); return; }
                            train.Add(ids);
                            if (counts is not null) foreach (int id in ids) counts[id]++;
                        }
                        if (nanoGpt)
                        {
                            // Pre-tokenised GPT-2 ids; a fixed compacted tokenizer maps them to its own.
                            Func<int[], int[]> map = tokenizer is CompactedTokenizer fixedCompact && fixedTokenizer ? fixedCompact.Map : ids => ids;
                            long before = 0;
                            foreach (var (name, validation) in new[] { (NanoGptData.TrainFile, false), (NanoGptData.ValidFile, true) })
                            {
                                foreach (var (ids, read) in NanoGptData.Documents(Path.Combine(nanoDir!, name), baseTokenizer.EndOfText, baseTokenizer.VocabSize))
                                {
                                    Write(map(ids), validation);
                                    progress.Report(++documents, before + read);
                                }
                                before += new FileInfo(Path.Combine(nanoDir!, name)).Length;
                            }
                        }
                        else
                        {
                            // Batches of documents encoded in parallel, written in order.
                            var batch = new List<string>(512);
                            long index = 0, bytes = 0;
                            void Flush()
                            {
                                var encoded = new int[batch.Count][];
                                Parallel.For(0, batch.Count, i => encoded[i] = writing.Encode(batch[i]));
                                foreach (var ids in encoded) Write(ids, HeldOut.Is(index++));
                                documents += batch.Count;
                                batch.Clear();
                                progress.Report(documents, bytes);
                            }
                            foreach (var (text, read) in parquet!.Documents())
                            {
                                bytes = read;
                                if (string.IsNullOrWhiteSpace(text)) continue;
                                batch.Add(text);
                                if (batch.Count == batch.Capacity) Flush();
                            }
                            if (batch.Count > 0) Flush();
                            if (index < HeldOut.Every) throw new UserError($"column '{parquet.Column}' of {source} holds {index} non-empty rows; a streamed corpus needs at least {HeldOut.Every}");
                        }
                        train.Complete();
                        valid.Complete();
                    }
                    progress.Done(documents, nanoGpt ? TotalBytes(nanoDir!) : parquet!.TotalBytes);
                    ITextTokenizer final = tokenizer;
                    if (compact)
                    {
                        // Fitted on the training ids only, as for any corpus; the written files mapped into the final ones.
                        var compacted = CompactedTokenizer.FromCounts(baseTokenizer, counts!, compactTo);
                        MapStream(trainPath, Path.Combine(staging, "train.lnstok"), compacted);
                        MapStream(validPath, Path.Combine(staging, "valid.lnstok"), compacted);
                        File.Delete(trainPath);
                        File.Delete(validPath);
                        final = compacted;
                    }
                    Tokenizers.Save(final, Path.Combine(staging, "tokenizer.json"));
                    File.WriteAllText(Path.Combine(staging, "source.json"), JsonSerializer.Serialize(new
                    {
                        Description = description, Fingerprint = fingerprint, documents, tokenizer = final.Name, streamed = true,
                    }));
                    File.WriteAllText(Path.Combine(staging, "complete"), "");
                }, replace: true);
            }
            var trainStream = TokenStream.Open(Path.Combine(dir, "train.lnstok"));
            var validStream = TokenStream.Open(Path.Combine(dir, "valid.lnstok"));
            return new DataSet(dir, key, fingerprint, Tokenizers.Load(Path.Combine(dir, "tokenizer.json")), trainStream, validStream, description);
        }

        /// <summary>A complete streamed cache of the files with <paramref name="fingerprint"/> whose saved tokenizer is
        /// <paramref name="serializedTokenizer"/>, or null.</summary>
        private static string? Built(string fingerprint, string serializedTokenizer)
        {
            string root = Path.Combine(Corpus.CacheDirectory, "tokens");
            if (!System.IO.Directory.Exists(root)) return null;
            foreach (var dir in System.IO.Directory.GetDirectories(root))
            {
                string source = Path.Combine(dir, "source.json"), saved = Path.Combine(dir, "tokenizer.json");
                if (!File.Exists(Path.Combine(dir, "complete")) || !File.Exists(source) || !File.Exists(saved)) continue;
                try
                {
                    using var doc = JsonDocument.Parse(File.ReadAllText(source));
                    if (doc.RootElement.TryGetProperty("Fingerprint", out var f) && f.GetString() == fingerprint
                        && doc.RootElement.TryGetProperty("streamed", out _) && File.ReadAllText(saved) == serializedTokenizer)
                        return dir;
                }
                catch (JsonException) { }
            }
            return null;
        }

        private static long TotalBytes(string nanoDir)
            => new FileInfo(Path.Combine(nanoDir, NanoGptData.TrainFile)).Length + new FileInfo(Path.Combine(nanoDir, NanoGptData.ValidFile)).Length;

        /// <summary>A token file's documents mapped through <paramref name="compacted"/> into a new file, one document at a time.</summary>
        private static void MapStream(string from, string to, CompactedTokenizer compacted)
        {
            using var source = TokenStream.Open(from);
            using var file = File.Create(to);
            var writer = new TokenStreamWriter(file, compacted.EndOfText, compacted.VocabSize);
            var buffer = Array.Empty<long>();
            for (int d = 0; d < source.Documents; d++)
            {
                var (start, length) = source.Document(d);
                if (buffer.Length < length) buffer = new long[Math.Max(length, 2 * buffer.Length)];
                source.Read(start, buffer.AsSpan(0, (int)length));
                var ids = new int[length];
                for (int i = 0; i < length; i++) ids[i] = (int)buffer[i];
                writer.Add(compacted.Map(ids));
            }
            writer.Complete();
        }

        private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();

        public void Dispose()
        {
            Train.Dispose();
            Valid.Dispose();
        }
    }
}
