using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using LnsDsl.Interop;
using LnsDsl.Tests.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>LnsDsl models out to Hugging Face checkpoints, and round trips both ways.</summary>
    [Collection("Console")] // they set LNSDSL_CACHE, a process-wide variable other tests of that collection set too
    public sealed class HuggingFaceExportTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-hfx-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");

        public HuggingFaceExportTests()
        {
            Directory.CreateDirectory(_dir);
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(Path.GetTempPath(), "lnsdsl-test-cache"));
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            Directory.Delete(_dir, recursive: true);
        }

        private static Tensor Tokens(int vocab) => (arange(16, dtype: ScalarType.Int64) * 7 % vocab).reshape(2, 8);

        private static double RelativeError(Tensor a, Tensor b)
            => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).norm().item<double>() / b.to(ScalarType.Float64).norm().item<double>();

        /// <summary>The same shape, dtype and bytes.</summary>
        private static bool Same(Tensor a, Tensor b)
            => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.contiguous().bytes.ToArray().SequenceEqual(b.contiguous().bytes.ToArray());

        public static IEnumerable<object[]> Families() => new[] { "llama", "mistral", "qwen2", "qwen3", "gemma2", "olmo2" }.Select(f => new object[] { f });

        [Theory]
        [MemberData(nameof(Families))]
        public void Import_then_export_gives_the_same_tensors_bit_for_bit(string family)
        {
            var config = HfCheckpoints.Config(family, c => c["sliding_window"] = family == "mistral" ? 4096 : c["sliding_window"]?.DeepClone());
            string input = HfCheckpoints.Write(Path.Combine(_dir, family), config, HfCheckpoints.Weights(config), ScalarType.BFloat16);
            using var model = HuggingFace.Load(input);
            string output = Path.Combine(_dir, family + "-out");
            HuggingFace.Save(model, output);
            var before = SafeTensors.ReadCheckpoint(input);
            var after = SafeTensors.ReadCheckpoint(output);
            Assert.Equal(before.Keys.OrderBy(k => k, StringComparer.Ordinal), after.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (name, t) in before)
            {
                Assert.Equal(t.dtype, after[name].dtype);
                Assert.True(Same(t, after[name]), $"{name} differs");
            }
            var exported = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject();
            Assert.Equal((string)config["architectures"]![0]!, (string)exported["architectures"]![0]!);
            Assert.Equal("bfloat16", (string)exported["torch_dtype"]!);
        }

        [Fact]
        public void An_lns_model_leaves_as_llama_with_the_factor_folded_and_comes_back_with_the_same_logits()
        {
            using var model = new TinyGqaTied(3); // Pre-LN + LNS, GQA, tied embeddings
            string output = Path.Combine(_dir, "lns-out");
            HuggingFace.Save(model, output);
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject();
            Assert.Equal("LlamaForCausalLM", (string)config["architectures"]![0]!);
            Assert.True((bool)config["tie_word_embeddings"]!);
            var tensors = SafeTensors.ReadCheckpoint(output);
            Assert.False(tensors.ContainsKey("lm_head.weight"));
            // Block 4's norms carry 1/sqrt(4) = 0.5; the final norm is never scaled.
            var original = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.True(tensors["model.layers.3.input_layernorm.weight"].allclose(original["layers.3.input_layernorm.weight"] * 0.5));
            Assert.True(tensors["model.layers.3.post_attention_layernorm.weight"].allclose(original["layers.3.post_attention_layernorm.weight"] * 0.5));
            Assert.True(Same(tensors["model.norm.weight"], original["norm.weight"]));

            using var back = HuggingFace.Load(output);
            using var noGrad = no_grad();
            var tokens = Tokens(model.Spec.Vocab);
            Assert.True(RelativeError(back.forward(tokens), model.forward(tokens)) < 1e-5);
            // And it is what an independent reading of the Hugging Face formulas computes.
            var reference = new HfReference(tensors, config).Forward(tokens);
            Assert.True(RelativeError(model.forward(tokens), reference) < 1e-5);
        }

        [Fact]
        public void Removing_layers_renumbers_the_rest_and_updates_the_config()
        {
            var config = HfCheckpoints.Config("llama", c => c["num_hidden_layers"] = 4);
            var weights = HfCheckpoints.Weights(config);
            string input = HfCheckpoints.Write(Path.Combine(_dir, "four"), config, weights);
            using var model = HuggingFace.Load(input);
            string output = Path.Combine(_dir, "pruned");
            HuggingFace.Save(model, output, new HfExportOptions { RemoveLayers = new[] { 2, 4 } });
            var exported = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject();
            Assert.Equal(2, (int)exported["num_hidden_layers"]!);
            var tensors = SafeTensors.ReadCheckpoint(output);
            Assert.True(Same(tensors["model.layers.0.mlp.down_proj.weight"], weights["model.layers.0.mlp.down_proj.weight"]));
            Assert.True(Same(tensors["model.layers.1.mlp.down_proj.weight"], weights["model.layers.2.mlp.down_proj.weight"])); // block 3 is now the second
            Assert.DoesNotContain(tensors.Keys, k => k.StartsWith("model.layers.2.", StringComparison.Ordinal));
            // The pruned checkpoint computes the model with blocks 2 and 4 skipped.
            using var pruned = HuggingFace.Load(output);
            using var noGrad = no_grad();
            var tokens = Tokens(67);
            using var skipped = model.Forward(tokens, skipBlocks: new[] { 2, 4 });
            Assert.True(RelativeError(pruned.forward(tokens), skipped.Logits) < 1e-6);
        }

        [Fact]
        public void Placements_no_hugging_face_class_computes_are_refused_naming_the_pytorch_export_and_nothing_is_written()
        {
            foreach (TransformerModule m in new TransformerModule[] { new TinyPost(1), new TinyMixLns(1), new TinyDeepNorm(1), new TinyPeriLns(1), new TinyLayerScale(1), new TinyReZero(1), new TinySkipInitLns(1), new TinyCompleteP(1), new TinyBHyT(1), new TinyHybrid(1), new TinyMhcLns(1) })
            {
                using (m)
                {
                    string output = Path.Combine(_dir, "refused-" + m.Spec.Name);
                    var e = Assert.ThrowsAny<UserError>(() => HuggingFace.Save(m, output));
                    Assert.Contains("no Hugging Face class computes it", e.Message);
                    Assert.Contains("--pytorch", e.Message);
                    Assert.False(Directory.Exists(output));
                }
            }
            using var model = new TinyLns(1);
            string busy = Path.Combine(_dir, "busy");
            Directory.CreateDirectory(busy);
            File.WriteAllText(Path.Combine(busy, "keep.txt"), "mine");
            Assert.Contains("is not empty", Assert.ThrowsAny<UserError>(() => HuggingFace.Save(model, busy)).Message);
            Assert.Equal(new[] { "keep.txt" }, Directory.GetFiles(busy).Select(Path.GetFileName));
            Assert.Contains("not in 1..4", Assert.ThrowsAny<UserError>(() => HuggingFace.Save(model, Path.Combine(_dir, "x"), new HfExportOptions { RemoveLayers = new[] { 5 } })).Message);
            Assert.Empty(Directory.GetDirectories(_dir, "*.partial-*"));
        }
    }
}
