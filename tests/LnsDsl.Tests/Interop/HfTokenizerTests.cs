using System;
using System.IO;
using LnsDsl.Data;
using Xunit;

namespace LnsDsl.Tests
{
    /// <summary>A checkpoint's own byte-level BPE tokenizer.json, through Microsoft.ML.Tokenizers.</summary>
    public sealed class HfTokenizerTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-hftok-" + Guid.NewGuid().ToString("N"));

        public HfTokenizerTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Fact]
        public void A_byte_level_bpe_applies_its_merges_round_trips_and_knows_its_end_of_text()
        {
            HfCheckpoints.WriteByteLevelTokenizer(_dir, "t h", "th e", "e e", "d e");
            var t = Tokenizers.Create("hf:" + _dir);
            Assert.Equal(256, t.EndOfText);
            Assert.Equal(261, t.VocabSize);
            Assert.Equal(new[] { 258 }, t.Encode("the"));             // "t h" -> 257, "th e" -> 258
            Assert.Equal(new[] { 32 }, t.Encode(" ")); // a space is its byte
            string text = "the deep layers, ü and € too";
            Assert.Equal(text, t.Decode(t.Encode(text)));
            Assert.Contains("has no tokenizer", Assert.ThrowsAny<UserError>(() => Tokenizers.Create("hf:" + Path.Combine(_dir, "nothing"))).Message);
        }

        [Fact]
        public void Vocab_json_and_merges_txt_give_the_same_tokenizer()
        {
            HfCheckpoints.WriteByteLevelTokenizer(_dir, "t h", "th e", "e e", "d e");
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "tokenizer.json")))!;
            string split = Path.Combine(_dir, "split");
            Directory.CreateDirectory(split);
            File.WriteAllText(Path.Combine(split, "vocab.json"), json["model"]!["vocab"]!.ToJsonString());
            File.WriteAllText(Path.Combine(split, "merges.txt"), "#version: 0.2\nt h\nth e\ne e\nd e\n");
            var a = Tokenizers.Create("hf:" + _dir);
            var b = Tokenizers.Create("hf:" + split);
            string text = "the deep layers need their depth";
            Assert.Equal(a.Encode(text), b.Encode(text));
            Assert.Equal(a.EndOfText, b.EndOfText);
        }
    }
}
