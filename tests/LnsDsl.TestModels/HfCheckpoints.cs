using System;
using System.Collections.Generic;
using System.Linq;
using System.IO;
using System.Text.Json.Nodes;
using LnsDsl.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Tiny Hugging Face checkpoints written by the tests, with random weights under the families' own names.</summary>
    public static class HfCheckpoints
    {
        /// <summary>A tiny config of <paramref name="family"/> (model_type); <paramref name="edit"/> changes it before the weights are drawn.</summary>
        public static JsonObject Config(string family, Action<JsonObject>? edit = null)
        {
            var c = new JsonObject
            {
                ["architectures"] = new JsonArray(family switch
                {
                    "llama" => "LlamaForCausalLM", "mistral" => "MistralForCausalLM", "qwen2" => "Qwen2ForCausalLM",
                    "qwen3" => "Qwen3ForCausalLM", "gemma2" => "Gemma2ForCausalLM", "olmo2" => "Olmo2ForCausalLM",
                    _ => throw new ArgumentException(family),
                }),
                ["model_type"] = family,
                ["vocab_size"] = 67,
                ["hidden_size"] = 32,
                ["intermediate_size"] = 56,
                ["num_hidden_layers"] = 3,
                ["num_attention_heads"] = 4,
                ["num_key_value_heads"] = 2,
                ["max_position_embeddings"] = 128,
                ["rms_norm_eps"] = 1e-5,
                ["rope_theta"] = 10000.0,
                ["hidden_act"] = "silu",
                ["tie_word_embeddings"] = false,
                ["torch_dtype"] = "float32",
            };
            if (family == "qwen3") { c["head_dim"] = 16; c["rope_theta"] = 1000000.0; }
            if (family == "gemma2")
            {
                c.Remove("hidden_act");
                c["hidden_activation"] = "gelu_pytorch_tanh";
                c["head_dim"] = 16;
                c["query_pre_attn_scalar"] = 24;
                c["attn_logit_softcapping"] = 50.0;
                c["final_logit_softcapping"] = 30.0;
                c["tie_word_embeddings"] = true;
                c["sliding_window"] = 64;
            }
            edit?.Invoke(c);
            return c;
        }

        /// <summary>Random weights for <paramref name="config"/>, under Hugging Face names, in fp32.</summary>
        public static Dictionary<string, Tensor> Weights(JsonObject config, long seed = 1)
        {
            string family = (string)config["model_type"]!;
            int h = (int)config["hidden_size"]!, heads = (int)config["num_attention_heads"]!, kv = config["num_key_value_heads"] is JsonValue k ? (int)k : heads;
            int hd = config["head_dim"] is JsonValue d ? (int)d : h / heads, f = (int)config["intermediate_size"]!, vocab = (int)config["vocab_size"]!;
            bool attnBias = config["attention_bias"] is JsonValue ab && (bool)ab, qkvBias = attnBias || family == "qwen2", mlpBias = config["mlp_bias"] is JsonValue mb && (bool)mb;
            bool tied = config["tie_word_embeddings"] is JsonValue t && (bool)t;
            using var generator = new Generator((ulong)seed);
            var w = new Dictionary<string, Tensor>();
            Tensor Normal(params long[] shape) => (randn(shape, generator: generator) * 0.2).to(ScalarType.Float32);
            // Norm gains around 1 (Gemma stores them around 0: it multiplies by 1 + w).
            Tensor Gain(long n) => family == "gemma2" ? Normal(n) * 0.5 : 1 + Normal(n) * 0.5;
            w["model.embed_tokens.weight"] = Normal(vocab, h);
            for (int i = 0; i < (int)config["num_hidden_layers"]!; i++)
            {
                string p = $"model.layers.{i}.";
                w[p + "self_attn.q_proj.weight"] = Normal(heads * hd, h);
                w[p + "self_attn.k_proj.weight"] = Normal(kv * hd, h);
                w[p + "self_attn.v_proj.weight"] = Normal(kv * hd, h);
                w[p + "self_attn.o_proj.weight"] = Normal(h, heads * hd);
                if (qkvBias)
                {
                    w[p + "self_attn.q_proj.bias"] = Normal(heads * hd);
                    w[p + "self_attn.k_proj.bias"] = Normal(kv * hd);
                    w[p + "self_attn.v_proj.bias"] = Normal(kv * hd);
                }
                if (attnBias) w[p + "self_attn.o_proj.bias"] = Normal(h);
                if (family == "qwen3") { w[p + "self_attn.q_norm.weight"] = Gain(hd); w[p + "self_attn.k_norm.weight"] = Gain(hd); }
                if (family == "olmo2") { w[p + "self_attn.q_norm.weight"] = Gain(heads * hd); w[p + "self_attn.k_norm.weight"] = Gain(kv * hd); }
                w[p + "mlp.gate_proj.weight"] = Normal(f, h);
                w[p + "mlp.up_proj.weight"] = Normal(f, h);
                w[p + "mlp.down_proj.weight"] = Normal(h, f);
                if (mlpBias) { w[p + "mlp.gate_proj.bias"] = Normal(f); w[p + "mlp.up_proj.bias"] = Normal(f); w[p + "mlp.down_proj.bias"] = Normal(h); }
                var norms = family switch
                {
                    "gemma2" => new[] { "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm" },
                    "olmo2" => new[] { "post_attention_layernorm", "post_feedforward_layernorm" },
                    _ => new[] { "input_layernorm", "post_attention_layernorm" },
                };
                foreach (var n in norms) w[p + n + ".weight"] = Gain(h);
            }
            w["model.norm.weight"] = Gain(h);
            if (!tied) w["lm_head.weight"] = Normal(vocab, h);
            return w;
        }

        /// <summary>Writes config.json and the weights (in <paramref name="dtype"/>; sharded past <paramref name="maxShardBytes"/>).</summary>
        public static string Write(string directory, JsonObject config, IReadOnlyDictionary<string, Tensor> weights, ScalarType dtype = ScalarType.Float32, long maxShardBytes = long.MaxValue)
        {
            Directory.CreateDirectory(directory);
            config["torch_dtype"] = dtype == ScalarType.BFloat16 ? "bfloat16" : "float32";
            File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            var stored = new Dictionary<string, Tensor>();
            foreach (var (name, t) in weights) stored[name] = t.to(dtype);
            SafeTensors.WriteCheckpoint(directory, stored, maxShardBytes, new Dictionary<string, string> { ["format"] = "pt" });
            return directory;
        }

        /// <summary>
        /// A byte-level BPE <c>tokenizer.json</c> (GPT-2's byte-to-character table): ids 0..255 the bytes, 256
        /// <c>&lt;|endoftext|&gt;</c>, then one id per merge ("t h" → "th", ...), and a matching tokenizer_config.json.
        /// </summary>
        public static void WriteByteLevelTokenizer(string directory, params string[] merges)
        {
            var chars = ByteChars();
            var vocab = new JsonObject();
            for (int b = 0; b < 256; b++) vocab[chars[b].ToString()] = b;
            vocab["<|endoftext|>"] = 256;
            int next = 257;
            foreach (var m in merges) vocab[m.Replace(" ", "")] = next++;
            var json = new JsonObject
            {
                ["version"] = "1.0",
                ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 256, ["content"] = "<|endoftext|>", ["special"] = true }),
                ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
                ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(merges.Select(m => (JsonNode)m!).ToArray()) },
            };
            File.WriteAllText(Path.Combine(directory, "tokenizer.json"), json.ToJsonString());
            File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), new JsonObject { ["eos_token"] = "<|endoftext|>" }.ToJsonString());
        }

        /// <summary>GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256 + n in order.</summary>
        private static char[] ByteChars()
        {
            var chars = new char[256];
            int n = 0;
            for (int b = 0; b < 256; b++)
            {
                bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                chars[b] = printable ? (char)b : (char)(256 + n++);
            }
            return chars;
        }
    }
}
