using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace LnsDsl.Data
{
    /// <summary>
    /// A Hugging Face checkpoint's own tokenizer, through Microsoft.ML.Tokenizers: <c>tokenizer.model</c>
    /// (SentencePiece: LLaMA-2, Mistral, Gemma, DeepSeek-LLM) when present, else a byte-level BPE
    /// <c>tokenizer.json</c> (Llama-3, Qwen, OLMo-2) or <c>vocab.json</c> + <c>merges.txt</c>, with its special tokens.
    /// The end-of-text id is the checkpoint's end-of-sequence token. A checkpoint LnsDsl exported whose tokenizer has no
    /// Hugging Face file (tiktoken encodings, compacted vocabularies) carries <c>lnsdsl_tokenizer.json</c> instead.
    /// </summary>
    public static class HuggingFaceTokenizer
    {
        /// <summary>GPT-2's pre-tokenizer pattern, used by byte-level BPE files that give none of their own.</summary>
        public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

        /// <summary>LnsDsl's description of a tokenizer, written beside exported weights.</summary>
        public const string LnsDslFile = "lnsdsl_tokenizer.json";

        private static readonly string[] EndNames = { "<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|im_end|>" };

        public static ITextTokenizer Load(string directory)
        {
            string name = "hf:" + Path.GetFullPath(directory);
            string model = Path.Combine(directory, "tokenizer.model");
            string json = Path.Combine(directory, "tokenizer.json");
            string vocab = Path.Combine(directory, "vocab.json"), merges = Path.Combine(directory, "merges.txt");
            string? eos = EndOfSequenceToken(directory);
            string own = Path.Combine(directory, LnsDslFile);
            try
            {
                // A checkpoint LnsDsl exported with a tokenizer no Hugging Face file describes (tiktoken, compacted).
                if (File.Exists(own) && !File.Exists(model) && !File.Exists(json) && !File.Exists(vocab)) return Tokenizers.Load(own);
                if (File.Exists(model))
                {
                    using var stream = File.OpenRead(model);
                    var t = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
                    int size = t.Vocabulary.Values.Max() + 1;
                    int end = eos is not null && t.Vocabulary.TryGetValue(eos, out int e) ? e : t.EndOfSentenceId;
                    return new LibraryTokenizer(name, t, size, end);
                }
                if (File.Exists(json)) return FromTokenizerJson(name, json, eos);
                if (File.Exists(vocab) && File.Exists(merges))
                {
                    var v = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocab)) ?? throw new UserError($"'{vocab}' is empty");
                    var m = File.ReadAllLines(merges).Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal)).ToList();
                    return ByteLevel(name, v, m, new Dictionary<string, int>(), Gpt2Pattern, eos);
                }
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException or KeyNotFoundException)
            {
                throw new UserError($"the tokenizer in '{directory}' could not be read ({e.Message}); give one with --tokenizer");
            }
            throw new UserError($"'{directory}' has no tokenizer (tokenizer.model, tokenizer.json, or vocab.json + merges.txt); give one with --tokenizer");
        }

        private static string? EndOfSequenceToken(string directory)
        {
            string path = Path.Combine(directory, "tokenizer_config.json");
            if (!File.Exists(path)) return null;
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(path));
                if (!doc.RootElement.TryGetProperty("eos_token", out var eos)) return null;
                return eos.ValueKind switch
                {
                    JsonValueKind.String => eos.GetString(),
                    JsonValueKind.Object when eos.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
                    _ => null,
                };
            }
            catch (JsonException) { return null; }
        }

        private static ITextTokenizer FromTokenizerJson(string name, string path, string? eos)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var model = root.GetProperty("model");
            string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
            if (type != "BPE") throw new UserError($"'{path}': tokenizer model type '{type}' is not supported (supported: byte-level BPE; SentencePiece through tokenizer.model)");
            string? pattern = null;
            bool byteLevel = false;
            if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object) Scan(pre, ref pattern, ref byteLevel);
            if (!byteLevel)
                throw new UserError($"'{path}' is not a byte-level BPE tokenizer (a SentencePiece-style tokenizer.json); give its tokenizer.model, or --tokenizer");
            var vocab = model.GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32(), StringComparer.Ordinal);
            var merges = model.GetProperty("merges").EnumerateArray().Select(m => m.ValueKind == JsonValueKind.String
                ? m.GetString()! : string.Join(" ", m.EnumerateArray().Select(x => x.GetString()))).ToList();
            var special = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                foreach (var a in added.EnumerateArray())
                    if (a.TryGetProperty("content", out var content) && a.TryGetProperty("id", out var id))
                        special[content.GetString()!] = id.GetInt32();
            return ByteLevel(name, vocab, merges, special, pattern ?? Gpt2Pattern, eos);
        }

        /// <summary>Finds the split pattern and whether a ByteLevel step is present, in a pre-tokenizer or a sequence of them.</summary>
        private static void Scan(JsonElement pre, ref string? pattern, ref bool byteLevel)
        {
            string type = pre.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
            if (type == "Sequence" && pre.TryGetProperty("pretokenizers", out var list))
            {
                foreach (var p in list.EnumerateArray()) Scan(p, ref pattern, ref byteLevel);
                return;
            }
            if (type == "ByteLevel") byteLevel = true;
            if (type == "Split" && pre.TryGetProperty("pattern", out var pt) && pt.TryGetProperty("Regex", out var regex)) pattern ??= regex.GetString();
        }

        private static ITextTokenizer ByteLevel(string name, Dictionary<string, int> vocab, List<string> merges, Dictionary<string, int> special, string pattern, string? eos)
        {
            foreach (var (token, id) in special) vocab.TryAdd(token, id);
            var specialTokens = special.Count > 0 ? special : null;
            var options = new BpeOptions(vocab)
            {
                Merges = merges,
                SpecialTokens = specialTokens,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), specialTokens),
            };
            var bpe = BpeTokenizer.Create(options);
            int size = vocab.Values.Max() + 1;
            int end = eos is not null && vocab.TryGetValue(eos, out int e) ? e
                : EndNames.Select(n => vocab.TryGetValue(n, out int id) ? id : -1).FirstOrDefault(id => id >= 0, -1);
            if (end < 0) throw new UserError($"{name}: no end-of-sequence token found (looked for tokenizer_config.json's eos_token and {string.Join(", ", EndNames)})");
            return new LibraryTokenizer(name, bpe, size, end);
        }
    }
}
