using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace LnsDsl.Interop
{
    /// <summary>One LnsDsl parameter as rows of Hugging Face tensors: <c>qkv_proj</c> is q, then k, then v; <c>gate_up_proj</c> is gate, then up.</summary>
    /// <param name="Parameter">The LnsDsl name, e.g. <c>layers.0.self_attn.qkv_proj.weight</c>.</param>
    /// <param name="Sources">The Hugging Face tensors in row order with their row counts.</param>
    public sealed record WeightMapping(string Parameter, IReadOnlyList<(string Name, long Rows)> Sources);

    /// <summary>The names of LnsDsl's parameters in Hugging Face checkpoints (LLaMA layout and the families' extras).</summary>
    public static class HfWeights
    {
        /// <summary>Buffers some checkpoints carry that are derived, not learned (ignored on import).</summary>
        public static bool IsDerived(string name) => name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

        /// <summary>The Hugging Face sources of every parameter of a model with these parameter names and shapes.</summary>
        public static IReadOnlyList<WeightMapping> Map(ModelSpec spec, IEnumerable<string> parameters)
        {
            long q = (long)spec.Heads * spec.HeadDim, kv = (long)spec.KvHeads * spec.HeadDim, f = spec.FeedForward;
            var list = new List<WeightMapping>();
            foreach (string p in parameters)
            {
                list.Add(p switch
                {
                    "embed_tokens.weight" => One(p, "model.embed_tokens.weight"),
                    "norm.weight" or "norm.bias" => One(p, "model." + p),
                    "lm_head.weight" => One(p, "lm_head.weight"),
                    _ when p.StartsWith("layers.", StringComparison.Ordinal) => Layer(p, q, kv, f),
                    _ => throw new NotSupportedException($"LnsDsl parameter '{p}' has no Hugging Face name (Peri-LN's embed_norm, LayerScale gains: no Hugging Face class computes them)"),
                });
            }
            return list;
        }

        private static WeightMapping One(string parameter, string hf) => new(parameter, new[] { (hf, -1L) });

        private static WeightMapping Layer(string p, long q, long kv, long f)
        {
            // layers.{i}.{rest}
            int dot = p.IndexOf('.', "layers.".Length);
            string index = p["layers.".Length..dot];
            string rest = p[(dot + 1)..];
            string prefix = $"model.layers.{index}.";
            string kind = rest.EndsWith(".bias", StringComparison.Ordinal) ? "bias" : "weight";
            return rest switch
            {
                "self_attn.qkv_proj.weight" or "self_attn.qkv_proj.bias" => new(p, new[]
                {
                    (prefix + "self_attn.q_proj." + kind, q), (prefix + "self_attn.k_proj." + kind, kv), (prefix + "self_attn.v_proj." + kind, kv),
                }),
                "mlp.gate_up_proj.weight" or "mlp.gate_up_proj.bias" => new(p, new[] { (prefix + "mlp.gate_proj." + kind, f), (prefix + "mlp.up_proj." + kind, f) }),
                _ when rest.Contains("layer_scale", StringComparison.Ordinal)
                    => throw new NotSupportedException($"LnsDsl parameter '{p}' (LayerScale) has no Hugging Face name: no Hugging Face class computes LayerScale"),
                _ => One(p, prefix + rest),
            };
        }

        /// <summary>"model.layers.3.self_attn.q_proj.weight" → 3, or -1 outside the layers.</summary>
        public static int LayerOf(string hfName)
        {
            const string prefix = "model.layers.";
            if (!hfName.StartsWith(prefix, StringComparison.Ordinal)) return -1;
            int dot = hfName.IndexOf('.', prefix.Length);
            return dot > prefix.Length && int.TryParse(hfName.AsSpan(prefix.Length, dot - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : -1;
        }
    }
}
