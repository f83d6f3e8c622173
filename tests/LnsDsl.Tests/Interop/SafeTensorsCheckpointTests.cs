using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using LnsDsl.Interop;
using TorchSharp;
using Xunit;
using static LnsDsl.Tests.SafeTensorsTestFiles;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Checkpoint directories: one file or shards plus <c>model.safetensors.index.json</c>.</summary>
    public sealed class SafeTensorsCheckpointTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-stc-" + Guid.NewGuid().ToString("N"));

        public SafeTensorsCheckpointTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        /// <summary>Five F32 tensors of 400, 400, 800, 2000 (over the limit: a shard of its own) and 400 bytes.</summary>
        private static Dictionary<string, Tensor> Model() => new()
        {
            ["model.embed_tokens.weight"] = torch.randn(10, 10),
            ["model.layers.0.mlp.up_proj.weight"] = torch.randn(10, 10),
            ["model.layers.0.mlp.down_proj.weight"] = torch.randn(20, 10),
            ["model.layers.1.mlp.up_proj.weight"] = torch.randn(50, 10),
            ["model.norm.weight"] = torch.randn(100),
        };

        [Fact]
        public void Shards_split_at_the_size_limit_and_read_back()
        {
            var model = Model();
            SafeTensors.WriteCheckpoint(_dir, model, maxShardBytes: 1000, metadata: new Dictionary<string, string> { ["format"] = "pt" });
            // 400 + 400 (+800 > 1000) | 800 | 2000 alone | 400
            var expected = new[] { "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors", "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors" };
            Assert.Equal(expected.Append(SafeTensors.IndexFileName).OrderBy(s => s, StringComparer.Ordinal), Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).OrderBy(s => s, StringComparer.Ordinal));
            var index = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, SafeTensors.IndexFileName)))!;
            Assert.Equal(4000, (long)index["metadata"]!["total_size"]!);
            var map = index["weight_map"]!.AsObject().ToDictionary(p => p.Key, p => (string)p.Value!);
            Assert.Equal(new[] { expected[0], expected[0], expected[1], expected[2], expected[3] }, model.Keys.Select(k => map[k]));
            Assert.Equal("pt", SafeTensors.ReadMetadata(Path.Combine(_dir, expected[2]))["format"]);

            var back = SafeTensors.ReadCheckpoint(_dir);
            Assert.Equal(model.Keys, back.Keys);
            foreach (var (name, t) in model) Assert.Equal(Bytes(t), Bytes(back[name]));

            // Rewritten as one file: the index and the shards go.
            SafeTensors.WriteCheckpoint(_dir, model);
            Assert.Equal(new[] { SafeTensors.SingleFileName }, Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName));
            Assert.Equal(model.Keys, SafeTensors.ReadCheckpoint(_dir).Keys);

            // And back to shards (fewer this time): the single file goes.
            SafeTensors.WriteCheckpoint(_dir, model, maxShardBytes: 2000);
            Assert.Equal(new[] { "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", SafeTensors.IndexFileName },
                Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).OrderBy(s => s, StringComparer.Ordinal));
            Assert.Equal(model.Keys, SafeTensors.ReadCheckpoint(_dir).Keys);
        }

        [Fact]
        public void A_missing_shard_is_refused_naming_it()
        {
            SafeTensors.WriteCheckpoint(_dir, Model(), maxShardBytes: 1000);
            File.Delete(Path.Combine(_dir, "model-00003-of-00004.safetensors"));
            var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.ReadCheckpoint(_dir));
            Assert.Contains("shard 'model-00003-of-00004.safetensors' named by the index is missing", e.Message);
        }

        [Fact]
        public void The_index_and_the_shards_must_agree()
        {
            SafeTensors.WriteCheckpoint(_dir, Model(), maxShardBytes: 1000);
            string indexPath = Path.Combine(_dir, SafeTensors.IndexFileName);
            string original = File.ReadAllText(indexPath);

            var index = JsonNode.Parse(original)!;
            index["weight_map"]!["ghost.weight"] = "model-00001-of-00004.safetensors";
            File.WriteAllText(indexPath, index.ToJsonString());
            var ghost = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.ReadCheckpoint(_dir));
            Assert.Equal("ghost.weight", ghost.Tensor);
            Assert.Contains("which does not hold it", ghost.Message);

            index = JsonNode.Parse(original)!;
            index["weight_map"]!.AsObject().Remove("model.layers.0.mlp.up_proj.weight");
            File.WriteAllText(indexPath, index.ToJsonString());
            var unnamed = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.ReadCheckpoint(_dir));
            Assert.Equal("model.layers.0.mlp.up_proj.weight", unnamed.Tensor);
            Assert.Contains("does not name it", unnamed.Message);

            index = JsonNode.Parse(original)!;
            index["weight_map"]!["model.layers.0.mlp.up_proj.weight"] = "model-00002-of-00004.safetensors";
            File.WriteAllText(indexPath, index.ToJsonString());
            Assert.Contains("places it in 'model-00002-of-00004.safetensors'", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.ReadCheckpoint(_dir)).Message);

            File.WriteAllText(indexPath, "{\"weight_map\": {\"a\": \"../elsewhere.safetensors\"}}");
            Assert.Contains("not a file name", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.ReadCheckpoint(_dir)).Message);
            File.WriteAllText(indexPath, "{\"weight_map\": [1]");
            Assert.Contains("not valid JSON", Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.ReadCheckpoint(_dir)).Message);
        }

        [Fact]
        public void A_failed_write_leaves_the_previous_checkpoint_untouched()
        {
            var model = Model();
            SafeTensors.WriteCheckpoint(_dir, model, maxShardBytes: 1000);
            var before = Directory.GetFiles(_dir).OrderBy(f => f).Select(f => (f, Convert.ToBase64String(File.ReadAllBytes(f)))).ToList();
            var tied = new Dictionary<string, Tensor>(model) { ["lm_head.weight"] = model["model.embed_tokens.weight"] };
            Assert.ThrowsAny<UserError>(() => SafeTensors.WriteCheckpoint(_dir, tied, maxShardBytes: 1000));
            Assert.Equal(before, Directory.GetFiles(_dir).OrderBy(f => f).Select(f => (f, Convert.ToBase64String(File.ReadAllBytes(f)))).ToList());
            Assert.Empty(Directory.GetDirectories(_dir));
        }

        [Fact]
        public void A_directory_without_a_checkpoint_is_a_user_error()
        {
            Assert.Contains("no model.safetensors", Assert.ThrowsAny<UserError>(() => SafeTensors.ReadCheckpoint(_dir)).Message);
        }
    }
}
