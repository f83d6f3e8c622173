using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using LnsDsl.Interop;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// Hugging Face checkpoints written by the tests, imported through the generated code, against the Hugging Face
    /// formulas in float64 (<see cref="HfReference"/>).
    /// </summary>
    [Collection("Console")] // they set LNSDSL_CACHE, a process-wide variable other tests of that collection set too
    public sealed class HuggingFaceImportTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-hf-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");

        public HuggingFaceImportTests()
        {
            Directory.CreateDirectory(_dir);
            // Compiled declarations are cached: share one cache across these tests (and runs), never the user's.
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(Path.GetTempPath(), "lnsdsl-test-cache"));
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            Directory.Delete(_dir, recursive: true);
        }

        private static Tensor Tokens() => tensor(new long[] { 1, 5, 9, 66, 3, 3, 40, 12, 0, 7, 22, 31, 64, 2, 8, 50 }).reshape(2, 8);

        private static double RelativeError(Tensor actual, Tensor expected)
            => (actual.to(ScalarType.Float64) - expected).norm().item<double>() / expected.norm().item<double>();

        /// <summary>Imports <paramref name="config"/> with fresh weights and compares the logits with the fp64 reference.</summary>
        private double ImportError(string name, JsonObject config, ScalarType stored = ScalarType.Float32, long maxShardBytes = long.MaxValue)
        {
            var weights = HfCheckpoints.Weights(config);
            string dir = HfCheckpoints.Write(Path.Combine(_dir, name), config, weights, stored, maxShardBytes);
            using var model = HuggingFace.Load(dir, ScalarType.Float32);
            using var noGrad = no_grad();
            var reference = new HfReference(weights.ToDictionary(kv => kv.Key, kv => kv.Value.to(stored)), config).Forward(Tokens());
            return RelativeError(model.forward(Tokens()), reference);
        }

        public static IEnumerable<object[]> LlamaLike() => new[]
        {
            new object[] { "llama-gqa", "llama", (Action<JsonObject>)(_ => { }) },
            new object[] { "llama-tied-mha", "llama", (Action<JsonObject>)(c => { c["tie_word_embeddings"] = true; c["num_key_value_heads"] = 4; }) },
            new object[] { "llama3-theta", "llama", (Action<JsonObject>)(c => { c["rope_theta"] = 500000.0; c["num_key_value_heads"] = 1; }) },
            new object[] { "mistral", "mistral", (Action<JsonObject>)(c => c["sliding_window"] = 4096) },
            new object[] { "llama-biases-gelu", "llama", (Action<JsonObject>)(c => { c["attention_bias"] = true; c["mlp_bias"] = true; c["hidden_act"] = "gelu"; }) },
            new object[] { "llama-head-dim", "llama", (Action<JsonObject>)(c => { c["head_dim"] = 12; c["tie_word_embeddings"] = true; }) },
            new object[] { "llama3-rope-scaling", "llama", (Action<JsonObject>)(c => { c["rope_theta"] = 500000.0; c["rope_scaling"] = new JsonObject
                { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 16 }; }) },
            new object[] { "linear-rope-scaling", "llama", (Action<JsonObject>)(c => c["rope_scaling"] = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 }) },
            new object[] { "qwen2", "qwen2", (Action<JsonObject>)(c => c["rope_theta"] = 1000000.0) },
            new object[] { "qwen3", "qwen3", (Action<JsonObject>)(_ => { }) },
            new object[] { "gemma2", "gemma2", (Action<JsonObject>)(_ => { }) },
            new object[] { "olmo2", "olmo2", (Action<JsonObject>)(c => c["rope_theta"] = 500000.0) },
        };

        [Theory]
        [MemberData(nameof(LlamaLike))]
        public void Every_family_gives_the_hugging_face_logits(string name, string family, Action<JsonObject> edit)
        {
            Assert.True(ImportError(name, HfCheckpoints.Config(family, edit)) < 1e-5);
        }

        [Fact]
        public void A_bf16_checkpoint_stays_bf16_unless_fp32_is_asked_for_and_shards_load()
        {
            var config = HfCheckpoints.Config("llama");
            var weights = HfCheckpoints.Weights(config);
            string dir = HfCheckpoints.Write(Path.Combine(_dir, "bf16"), config, weights, ScalarType.BFloat16, maxShardBytes: 20_000);
            Assert.True(File.Exists(Path.Combine(dir, "model.safetensors.index.json")));
            using var model = HuggingFace.Load(dir);
            Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
            using var fp32 = HuggingFace.Load(dir, ScalarType.Float32);
            Assert.All(fp32.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
            using var noGrad = no_grad();
            var reference = new HfReference(weights.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.BFloat16)), config).Forward(Tokens());
            Assert.True(RelativeError(fp32.forward(Tokens()), reference) < 1e-5); // the bf16 values, exactly, computed in fp32
            Assert.True(RelativeError(model.forward(Tokens()), reference) < 3e-2); // computed in bf16
        }

        [Fact]
        public void The_printed_declaration_names_the_architecture_in_the_dsl()
        {
            var config = HfCheckpoints.Config("llama", c => c["rope_theta"] = 500000.0);
            string dir = HfCheckpoints.Write(Path.Combine(_dir, "Tiny-Llama-3"), config, HfCheckpoints.Weights(config));
            string source = HuggingFace.Declaration(dir);
            Assert.Contains("[TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 56, Vocab = 67, KvHeads = 2, MaxSeq = 128)]", source);
            Assert.Contains("[Norm(Kind.Pre, Eps = 1E-05)]", source);
            Assert.Contains("[Attention(RopeTheta = 500000)]", source);
            Assert.Contains("public partial class Tiny_Llama_3 { }", source);
        }

        [Fact]
        public void Unsupported_configs_are_refused_by_name_and_bad_weights_are_named()
        {
            void Refused(string phrase, Action<JsonObject> edit, string family = "llama")
            {
                var e = Assert.ThrowsAny<UserError>(() => HfConfig.Parse(HfCheckpoints.Config(family, edit).ToJsonString()));
                Assert.Contains(phrase, e.Message);
            }
            Refused("rope_scaling.rope_type' = \"yarn\" is not supported", c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 });
            Refused("'GPTNeoXForCausalLM' is not supported", c => c["architectures"] = new JsonArray("GPTNeoXForCausalLM"));
            Refused("partial_rotary_factor", c => c["partial_rotary_factor"] = 0.5);
            Refused("'relu' is not supported", c => c["hidden_act"] = "relu");
            Refused("field 'hidden_size' is missing", c => c.Remove("hidden_size"));
            Refused("field 'num_attention_heads' must be a positive integer", c => c["num_attention_heads"] = -4);
            Refused("attn_logit_softcapping' is only supported for Gemma2ForCausalLM", c => c["attn_logit_softcapping"] = 50.0);

            // Weights that do not fit the config: the tensor is named.
            var config = HfCheckpoints.Config("llama");
            var weights = HfCheckpoints.Weights(config);
            weights["model.layers.1.mlp.up_proj.weight"] = zeros(57, 32);
            string dir = HfCheckpoints.Write(Path.Combine(_dir, "bad-shape"), config, weights);
            Assert.Contains("tensor 'model.layers.1.mlp.up_proj.weight' has shape [57, 32]", Assert.ThrowsAny<UserError>(() => HuggingFace.Load(dir)).Message);
            weights = HfCheckpoints.Weights(config);
            weights.Remove("model.layers.2.self_attn.k_proj.weight");
            dir = HfCheckpoints.Write(Path.Combine(_dir, "missing"), config, weights);
            Assert.Contains("has no tensor 'model.layers.2.self_attn.k_proj.weight'", Assert.ThrowsAny<UserError>(() => HuggingFace.Load(dir)).Message);
            weights = HfCheckpoints.Weights(config);
            weights["model.layers.0.self_attn.o_proj.bias"] = zeros(32);
            dir = HfCheckpoints.Write(Path.Combine(_dir, "extra"), config, weights);
            Assert.Contains("model.layers.0.self_attn.o_proj.bias", Assert.ThrowsAny<UserError>(() => HuggingFace.Load(dir)).Message);
        }
    }
}
