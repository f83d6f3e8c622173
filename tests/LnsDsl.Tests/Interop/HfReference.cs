using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// The Hugging Face modelling code's formulas, written out in float64 over the checkpoint's own tensor names
    /// (not the project's fused code): LLaMA/Mistral/Qwen2/Qwen3 (pre-norm RMSNorm, optional q/k/v and o biases,
    /// per-head QK-norm), Gemma-2 (four norms with (1 + w), the embedding times sqrt(hidden), query_pre_attn_scalar,
    /// soft-capped scores and logits, gated GELU-tanh) and OLMo-2 (norms after each branch, QK-norm over the whole
    /// projection). RoPE: rotate_half with inv_freq = theta^(-2j/d), optionally linear or llama3 scaling.
    /// </summary>
    public sealed class HfReference
    {
        private readonly Dictionary<string, Tensor> _w;
        private readonly JsonObject _c;
        private readonly string _family;

        public HfReference(IReadOnlyDictionary<string, Tensor> weights, JsonObject config)
        {
            _w = weights.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float64));
            _c = config;
            _family = (string)config["model_type"]!;
        }

        private int I(string name, int fallback = 0) => _c[name] is JsonValue v ? (int)v : fallback;
        private double D(string name, double fallback) => _c[name] is JsonValue v ? (double)v : fallback;
        private bool Flag(string name) => _c[name] is JsonValue v && (bool)v;
        private Tensor W(string name) => _w.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"no tensor '{name}'");
        private Tensor? Maybe(string name) => _w.TryGetValue(name, out var t) ? t : null;

        private Tensor Rms(Tensor x, Tensor w, double eps)
        {
            var normed = x * (x.square().mean(new long[] { -1 }, keepdim: true) + eps).rsqrt();
            return _family == "gemma2" ? normed * (1 + w) : normed * w;
        }

        private static Tensor Linear(Tensor x, Tensor w, Tensor? b) => b is null ? x.matmul(w.t()) : x.matmul(w.t()) + b;

        private Tensor InvFreq(int d)
        {
            double theta = D("rope_theta", 10000);
            var inv = pow(theta, -arange(0, d, 2, dtype: ScalarType.Float64) / d);
            if (_c["rope_scaling"] is JsonObject s)
            {
                string type = (string?)s["rope_type"] ?? (string)s["type"]!;
                static double Num(JsonNode? n) => double.Parse(n!.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
                double factor = Num(s["factor"]);
                if (type == "linear") return inv / factor;
                double low = Num(s["low_freq_factor"]), high = Num(s["high_freq_factor"]), old = Num(s["original_max_position_embeddings"]);
                var values = inv.data<double>().ToArray().Select(f =>
                {
                    double wavelen = 2 * Math.PI / f;
                    if (wavelen < old / high) return f;
                    if (wavelen > old / low) return f / factor;
                    double smooth = (old / wavelen - low) / (high - low);
                    return (1 - smooth) * f / factor + smooth * f;
                }).ToArray();
                return tensor(values);
            }
            return inv;
        }

        private static Tensor RotateHalf(Tensor x)
        {
            long half = x.shape[^1] / 2;
            return cat(new[] { -x[TensorIndex.Ellipsis, TensorIndex.Slice(half, null)], x[TensorIndex.Ellipsis, TensorIndex.Slice(null, half)] }, -1);
        }

        /// <summary>Logits <c>[B, T, vocab]</c> in float64.</summary>
        public Tensor Forward(Tensor tokens)
        {
            using var scope = NewDisposeScope();
            int hidden = I("hidden_size"), heads = I("num_attention_heads"), kv = I("num_key_value_heads", heads);
            int hd = I("head_dim", hidden / heads), layers = I("num_hidden_layers");
            double eps = D("rms_norm_eps", 1e-6);
            long B = tokens.shape[0], T = tokens.shape[1];
            var x = W("model.embed_tokens.weight")[tokens];
            if (_family == "gemma2") x = x * Math.Sqrt(hidden);
            var inv = InvFreq(hd);
            var freqs = outer(arange(T, dtype: ScalarType.Float64), inv);
            var emb = cat(new[] { freqs, freqs }, -1);
            var cos = emb.cos();
            var sin = emb.sin();
            var mask = ones(T, T, dtype: ScalarType.Bool).tril();
            double scale = _family == "gemma2" ? Math.Pow(I("query_pre_attn_scalar", hd), -0.5) : Math.Pow(hd, -0.5);
            for (int i = 0; i < layers; i++)
            {
                string p = $"model.layers.{i}.";
                Tensor Attention(Tensor h)
                {
                    var q = Linear(h, W(p + "self_attn.q_proj.weight"), Maybe(p + "self_attn.q_proj.bias"));
                    var k = Linear(h, W(p + "self_attn.k_proj.weight"), Maybe(p + "self_attn.k_proj.bias"));
                    var v = Linear(h, W(p + "self_attn.v_proj.weight"), Maybe(p + "self_attn.v_proj.bias"));
                    if (_family == "olmo2")
                    {
                        q = Rms(q, W(p + "self_attn.q_norm.weight"), eps);
                        k = Rms(k, W(p + "self_attn.k_norm.weight"), eps);
                    }
                    q = q.view(B, T, heads, hd).transpose(1, 2);
                    k = k.view(B, T, kv, hd).transpose(1, 2);
                    v = v.view(B, T, kv, hd).transpose(1, 2);
                    if (_family == "qwen3")
                    {
                        q = Rms(q, W(p + "self_attn.q_norm.weight"), eps);
                        k = Rms(k, W(p + "self_attn.k_norm.weight"), eps);
                    }
                    q = q * cos + RotateHalf(q) * sin;
                    k = k * cos + RotateHalf(k) * sin;
                    int group = heads / kv;
                    k = k.repeat_interleave(group, 1);
                    v = v.repeat_interleave(group, 1);
                    var scores = q.matmul(k.transpose(-2, -1)) * scale;
                    if (_c["attn_logit_softcapping"] is JsonValue cap) scores = (scores / (double)cap).tanh() * (double)cap;
                    scores = scores.masked_fill(mask.logical_not(), double.NegativeInfinity);
                    var o = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(B, T, heads * hd);
                    return Linear(o, W(p + "self_attn.o_proj.weight"), Maybe(p + "self_attn.o_proj.bias"));
                }
                Tensor Mlp(Tensor h)
                {
                    var gate = Linear(h, W(p + "mlp.gate_proj.weight"), Maybe(p + "mlp.gate_proj.bias"));
                    var up = Linear(h, W(p + "mlp.up_proj.weight"), Maybe(p + "mlp.up_proj.bias"));
                    string act = (string?)_c["hidden_act"] ?? (string?)_c["hidden_activation"] ?? "silu";
                    var a = act switch
                    {
                        "silu" => gate * gate.sigmoid(),
                        "gelu" => 0.5 * gate * (1 + (gate / Math.Sqrt(2)).erf()),
                        _ => 0.5 * gate * (1 + (Math.Sqrt(2 / Math.PI) * (gate + 0.044715 * gate.pow(3))).tanh()),
                    };
                    return Linear(a * up, W(p + "mlp.down_proj.weight"), Maybe(p + "mlp.down_proj.bias"));
                }
                switch (_family)
                {
                    case "gemma2":
                        x = x + Rms(Attention(Rms(x, W(p + "input_layernorm.weight"), eps)), W(p + "post_attention_layernorm.weight"), eps);
                        x = x + Rms(Mlp(Rms(x, W(p + "pre_feedforward_layernorm.weight"), eps)), W(p + "post_feedforward_layernorm.weight"), eps);
                        break;
                    case "olmo2":
                        x = x + Rms(Attention(x), W(p + "post_attention_layernorm.weight"), eps);
                        x = x + Rms(Mlp(x), W(p + "post_feedforward_layernorm.weight"), eps);
                        break;
                    default:
                        x = x + Attention(Rms(x, W(p + "input_layernorm.weight"), eps));
                        x = x + Mlp(Rms(x, W(p + "post_attention_layernorm.weight"), eps));
                        break;
                }
            }
            x = Rms(x, W("model.norm.weight"), eps);
            var head = Flag("tie_word_embeddings") || Maybe("lm_head.weight") is null ? W("model.embed_tokens.weight") : W("lm_head.weight");
            var logits = x.matmul(head.t());
            if (_c["final_logit_softcapping"] is JsonValue final) logits = (logits / (double)final).tanh() * (double)final;
            return logits.MoveToOuterDisposeScope();
        }
    }
}
