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
            var corpus = Corpus.Load(source);
            var baseTokenizer = Tokenizers.Create(tokenizerSpec);
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
            var corpus = Corpus.Load(source);
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

        private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();

        public void Dispose()
        {
            Train.Dispose();
            Valid.Dispose();
        }
    }
}
