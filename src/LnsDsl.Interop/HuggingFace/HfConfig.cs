using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace LnsDsl.Interop
{
    /// <summary>The families of Hugging Face causal language models LnsDsl reads and writes.</summary>
    public enum HfFamily { Llama, Mistral, Qwen2, Qwen3, Gemma2, Olmo2 }

    /// <summary>RoPE scaling as a config asks for it.</summary>
    public sealed record HfRopeScaling(string Type, double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositions);

    /// <summary>
    /// A checkpoint's <c>config.json</c>, read into the fields LnsDsl understands. Anything the file asks for that
    /// LnsDsl does not compute is refused by name (<see cref="HfConfigException"/>), never ignored.
    /// </summary>
    public sealed record HfConfig
    {
        public required HfFamily Family { get; init; }
        public required string Architecture { get; init; }
        public required int Layers { get; init; }
        public required int Hidden { get; init; }
        public required int Heads { get; init; }
        public required int KvHeads { get; init; }
        public required int HeadDim { get; init; }
        /// <summary>Whether the file gives <c>head_dim</c> explicitly (it may equal hidden / heads).</summary>
        public required bool ExplicitHeadDim { get; init; }
        public required int Intermediate { get; init; }
        public required int Vocab { get; init; }
        public required int MaxPositions { get; init; }
        public required double Eps { get; init; }
        public required double RopeTheta { get; init; }
        public HfRopeScaling? RopeScaling { get; init; }
        public required string Activation { get; init; }
        public required bool TieEmbeddings { get; init; }
        public required bool AttentionBias { get; init; }
        public required bool MlpBias { get; init; }
        /// <summary>The sliding window when one applies (Mistral v0.1, Gemma-2, Qwen2 with use_sliding_window), else null.</summary>
        public int? SlidingWindow { get; init; }
        public double AttnSoftCap { get; init; }
        public double FinalSoftCap { get; init; }
        public int QueryPreAttnScalar { get; init; }
        /// <summary><c>torch_dtype</c> (or <c>dtype</c>): bfloat16, float16, float32, or null.</summary>
        public string? Dtype { get; init; }

        public static HfConfig Read(string path)
        {
            if (!File.Exists(path)) throw new HfConfigException(path, "does not exist; a Hugging Face checkpoint directory holds config.json and model.safetensors");
            JsonDocument doc;
            try { doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
            catch (JsonException e) { throw new HfConfigException(path, $"is not valid JSON ({e.Message})"); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new HfConfigException(path, "is not a JSON object");
                return Parse(new Fields(path, doc.RootElement));
            }
        }

        /// <summary>Reads a config from its text (<paramref name="path"/> names it in errors).</summary>
        public static HfConfig Parse(string json, string path = "config.json")
        {
            JsonDocument doc;
            try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
            catch (JsonException e) { throw new HfConfigException(path, $"is not valid JSON ({e.Message})"); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new HfConfigException(path, "is not a JSON object");
                return Parse(new Fields(path, doc.RootElement));
            }
        }

        private static readonly Dictionary<string, HfFamily> Architectures = new(StringComparer.Ordinal)
        {
            ["LlamaForCausalLM"] = HfFamily.Llama,
            ["MistralForCausalLM"] = HfFamily.Mistral,
            ["Qwen2ForCausalLM"] = HfFamily.Qwen2,
            ["Qwen3ForCausalLM"] = HfFamily.Qwen3,
            ["Gemma2ForCausalLM"] = HfFamily.Gemma2,
            ["Olmo2ForCausalLM"] = HfFamily.Olmo2,
        };

        private static readonly Dictionary<string, HfFamily> ModelTypes = new(StringComparer.Ordinal)
        {
            ["llama"] = HfFamily.Llama, ["mistral"] = HfFamily.Mistral, ["qwen2"] = HfFamily.Qwen2,
            ["qwen3"] = HfFamily.Qwen3, ["gemma2"] = HfFamily.Gemma2, ["olmo2"] = HfFamily.Olmo2,
        };

        /// <summary>The class name Hugging Face uses for a family.</summary>
        public static string ArchitectureOf(HfFamily family) => Architectures.First(p => p.Value == family).Key;

        /// <summary>The <c>model_type</c> of a family.</summary>
        public static string ModelTypeOf(HfFamily family) => ModelTypes.First(p => p.Value == family).Key;

        private static HfConfig Parse(Fields f)
        {
            var architectures = f.StringArray("architectures");
            string? modelType = f.String("model_type");
            HfFamily family;
            string architecture;
            if (architectures is { Count: > 0 })
            {
                if (architectures.Count > 1) throw f.Error("architectures", $"names {architectures.Count} classes ({string.Join(", ", architectures)}); give one");
                architecture = architectures[0];
                if (!Architectures.TryGetValue(architecture, out family))
                    throw f.Error("architectures", $"'{architecture}' is not supported; supported: {string.Join(", ", Architectures.Keys)}");
            }
            else if (modelType is not null && ModelTypes.TryGetValue(modelType, out family))
            {
                architecture = ArchitectureOf(family);
            }
            else
            {
                throw f.Error("architectures", $"is missing (and model_type '{modelType}' is not one of {string.Join(", ", ModelTypes.Keys)})");
            }

            int hidden = f.PositiveInt("hidden_size");
            int heads = f.PositiveInt("num_attention_heads");
            int kv = f.OptionalPositiveInt("num_key_value_heads") ?? heads;
            int? headDim = f.OptionalPositiveInt("head_dim");
            if (headDim is null && hidden % heads != 0) throw f.Error("hidden_size", $"{hidden} is not divisible by num_attention_heads {heads} and no head_dim is given");
            if (heads % kv != 0) throw f.Error("num_key_value_heads", $"{kv} does not divide num_attention_heads {heads}");

            // Features no family here computes are refused, whatever the family.
            if (f.OptionalDouble("partial_rotary_factor") is { } partial && partial != 1)
                throw f.Error("partial_rotary_factor", $"= {partial.ToString(CultureInfo.InvariantCulture)} (rotary embedding on part of each head) is not supported");
            if (f.Bool("use_qk_norm") == true && family != HfFamily.Qwen3 && family != HfFamily.Olmo2)
                throw f.Error("use_qk_norm", "is not supported for this family");
            if (f.Bool("is_decoder") == false) throw f.Error("is_decoder", "is false: only causal decoders are supported");

            string activation = f.String("hidden_act") ?? f.String("hidden_activation") ?? (family == HfFamily.Gemma2 ? "gelu_pytorch_tanh" : "silu");
            if (activation is not ("silu" or "swish" or "gelu" or "gelu_pytorch_tanh" or "gelu_new"))
                throw f.Error(f.Has("hidden_act") ? "hidden_act" : "hidden_activation", $"'{activation}' is not supported (supported: silu, gelu, gelu_pytorch_tanh)");

            int? window = null;
            bool slidingUsed = family switch
            {
                HfFamily.Mistral or HfFamily.Gemma2 => true,
                HfFamily.Qwen2 or HfFamily.Qwen3 => f.Bool("use_sliding_window") == true,
                _ => false,
            };
            if (slidingUsed && f.OptionalPositiveInt("sliding_window") is { } w) window = w;

            return new HfConfig
            {
                Family = family,
                Architecture = architecture,
                Layers = f.PositiveInt("num_hidden_layers"),
                Hidden = hidden,
                Heads = heads,
                KvHeads = kv,
                HeadDim = headDim ?? hidden / heads,
                ExplicitHeadDim = headDim is not null,
                Intermediate = f.PositiveInt("intermediate_size"),
                Vocab = f.PositiveInt("vocab_size"),
                MaxPositions = f.OptionalPositiveInt("max_position_embeddings") ?? 2048,
                Eps = f.OptionalDouble("rms_norm_eps") ?? f.OptionalDouble("layer_norm_eps") ?? 1e-6,
                RopeTheta = RopeThetaOf(f),
                RopeScaling = RopeScalingOf(f),
                Activation = activation,
                TieEmbeddings = f.Bool("tie_word_embeddings") ?? family == HfFamily.Gemma2,
                AttentionBias = f.Bool("attention_bias") ?? false,
                MlpBias = f.Bool("mlp_bias") ?? false,
                SlidingWindow = window,
                AttnSoftCap = family == HfFamily.Gemma2 ? f.OptionalDouble("attn_logit_softcapping") ?? 0 : NotFor(f, "attn_logit_softcapping"),
                FinalSoftCap = family == HfFamily.Gemma2 ? f.OptionalDouble("final_logit_softcapping") ?? 0 : NotFor(f, "final_logit_softcapping"),
                QueryPreAttnScalar = family == HfFamily.Gemma2 ? f.OptionalPositiveInt("query_pre_attn_scalar") ?? (headDim ?? hidden / heads) : 0,
                Dtype = f.String("torch_dtype") ?? f.String("dtype"),
            };
        }

        /// <summary>Soft-capping outside Gemma-2 is refused unless it is null or 0.</summary>
        private static double NotFor(Fields f, string name)
        {
            if (f.OptionalDouble(name) is { } v && v != 0) throw f.Error(name, "is only supported for Gemma2ForCausalLM");
            return 0;
        }

        private static double RopeThetaOf(Fields f)
        {
            if (f.Object("rope_parameters") is { } p && p.OptionalDouble("rope_theta") is { } t) return t;
            return f.OptionalDouble("rope_theta") ?? 10000;
        }

        private static HfRopeScaling? RopeScalingOf(Fields f)
        {
            var s = f.Object("rope_scaling") ?? f.Object("rope_parameters");
            if (s is null) return null;
            string? type = s.String("rope_type") ?? s.String("type");
            string field = f.Has("rope_scaling") ? "rope_scaling.rope_type" : "rope_parameters.rope_type";
            switch (type)
            {
                case null or "default":
                    return null;
                case "linear":
                    return new HfRopeScaling("linear", s.PositiveDouble("factor"), 1, 4, 0);
                case "llama3":
                    return new HfRopeScaling("llama3", s.PositiveDouble("factor"), s.OptionalDouble("low_freq_factor") ?? 1, s.OptionalDouble("high_freq_factor") ?? 4,
                        s.OptionalPositiveInt("original_max_position_embeddings") ?? 8192);
                default:
                    throw f.Error(field, $"= \"{type}\" is not supported (supported: linear, llama3)");
            }
        }

        /// <summary>Typed access to a JSON object's fields, with errors that name the file and the field.</summary>
        private sealed class Fields
        {
            private readonly string _path;
            private readonly JsonElement _e;
            private readonly string _prefix;

            public Fields(string path, JsonElement e, string prefix = "")
            {
                _path = path;
                _e = e;
                _prefix = prefix;
            }

            public HfConfigException Error(string field, string problem) => new(_path, $"field '{_prefix}{field}' {problem}");

            public bool Has(string name) => _e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

            private JsonElement? Get(string name) => _e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

            public string? String(string name) => Get(name) switch
            {
                null => null,
                { ValueKind: JsonValueKind.String } v => v.GetString(),
                _ => throw Error(name, "is not a string"),
            };

            public IReadOnlyList<string>? StringArray(string name) => Get(name) switch
            {
                null => null,
                { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Error(name, "is not an array of strings")).ToList(),
                _ => throw Error(name, "is not an array of strings"),
            };

            public bool? Bool(string name) => Get(name) switch
            {
                null => null,
                { ValueKind: JsonValueKind.True } => true,
                { ValueKind: JsonValueKind.False } => false,
                _ => throw Error(name, "is not true or false"),
            };

            public double? OptionalDouble(string name)
            {
                if (Get(name) is not { } v) return null;
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d)) throw Error(name, "is not a finite number");
                return d;
            }

            public double PositiveDouble(string name)
                => OptionalDouble(name) is { } d ? d > 0 ? d : throw Error(name, $"must be positive (got {d.ToString(CultureInfo.InvariantCulture)})") : throw Error(name, "is missing");

            public int? OptionalPositiveInt(string name)
            {
                if (Get(name) is not { } v) return null;
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long n)) throw Error(name, "is not an integer");
                if (n < 1 || n > int.MaxValue) throw Error(name, $"must be a positive integer below 2^31 (got {n})");
                return (int)n;
            }

            public int PositiveInt(string name) => OptionalPositiveInt(name) ?? throw Error(name, "is missing");

            public Fields? Object(string name) => Get(name) switch
            {
                null => null,
                { ValueKind: JsonValueKind.Object } v => new Fields(_path, v, _prefix + name + "."),
                _ => throw Error(name, "is not an object"),
            };
        }
    }

    /// <summary>A config.json that cannot be read, or asks for something LnsDsl does not compute.</summary>
    public sealed class HfConfigException : UserError
    {
        public HfConfigException(string path, string problem) : base($"'{path}': {problem}") { }
    }
}
