using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using LnsDsl.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Interop
{
    /// <summary>How a model leaves for the Hugging Face ecosystem (<see cref="HuggingFace.Save(TransformerModule, string)"/>).</summary>
    public sealed record HfExportOptions
    {
        /// <summary>1-based blocks to leave out (the paper's layer-removal script): the rest are renumbered and
        /// <c>num_hidden_layers</c> shrinks.</summary>
        public IReadOnlyCollection<int> RemoveLayers { get; init; } = Array.Empty<int>();
        /// <summary>Past this many bytes of tensors, the weights are sharded (<c>model.safetensors.index.json</c>).</summary>
        public long MaxShardBytes { get; init; } = 5_000_000_000;
        /// <summary>The written tensors' dtype: fp32 or bf16 (empty: the model's own).</summary>
        public string Dtype { get; init; } = "";
        /// <summary>The tokenizer to write beside the weights (null: an imported model's own files, if any).</summary>
        public ITextTokenizer? Tokenizer { get; init; }
    }

    /// <summary>
    /// The Hugging Face class that computes an LnsDsl model, its config.json and its tensors. Pre-LN models leave
    /// as <c>LlamaForCausalLM</c> (per-head QK-norm: <c>Qwen3ForCausalLM</c>; q/k/v bias alone: <c>Qwen2ForCausalLM</c>),
    /// Gemma-2's and OLMo-2's placements as theirs. LNS's factor is folded into the scaled norms' weights, which is
    /// exact for inference and evaluation; a model trained on from those weights is a plain Pre-LN model, not LNS.
    /// </summary>
    internal static class HfExport
    {
        /// <summary>The family that computes <paramref name="spec"/>, or why none does.</summary>
        public static HfFamily FamilyOf(ModelSpec spec, HfConfig? source)
        {
            string Why(string what) => $"{spec.Name} cannot be exported to Hugging Face: {what}; no Hugging Face class computes it. "
                + "Export it as PyTorch code instead (lnsrun export --pytorch, which carries every LnsDsl placement)";
            if (spec.LayerScale) throw new UserError(Why("it uses LayerScale"));
            if (spec.ResidualGate != ResidualGate.None) throw new UserError(Why("its residual branches are gated (ReZero / SkipInit)"));
            if (spec.ResidualRule != ResidualRule.None) throw new UserError(Why($"its residual branches are multiplied by {spec.ResidualRule}'s (L / {spec.BaseLayers})^-a"));
            if (spec.HyperStreams > 0) throw new UserError(Why($"its residual stream is {spec.HyperStreams} hyper-connected streams"));
            if (spec.NormType == NormType.BHyT) throw new UserError(Why("its norms are BHyT (a tanh of the RMS-normalised input with a learned lambda)"));
            if (!spec.Rope) throw new UserError(Why("it has no rotary embeddings"));
            if (spec.Activation == Activation.Gelu) throw new UserError(Why("its MLP is the ungated GELU"));
            switch (spec.Norm)
            {
                case Kind.Post: throw new UserError(Why("its placement is Post-LN"));
                case Kind.None: throw new UserError(Why("its blocks have no norms"));
                case Kind.Hybrid: throw new UserError(Why("its placement is HybridNorm (q, k and v normalised per head, the FFN's normalised input carried on the stream)"));
                case Kind.Mix: throw new UserError(Why($"its placement is Mix-LN (Post-LN blocks 1..{spec.PostLayers})"));
                case Kind.DeepNorm: throw new UserError(Why("its placement is DeepNorm (alpha-scaled residuals)"));
                case Kind.Peri when spec.EmbeddingNorm: throw new UserError(Why("its placement is Peri-LN with a norm on the embedding output"));
                case Kind.Peri:
                    if (spec.NormType != NormType.RmsNormPlusOne || !spec.ScaleEmbeddings || spec.Activation != Activation.GegluTanh || !spec.TieEmbeddings)
                        throw new UserError(Why("Peri-LN without the embedding norm is only Gemma-2's with its (1 + w) RMSNorm, scaled embeddings, gated GELU-tanh and tied embeddings"));
                    return HfFamily.Gemma2;
                case Kind.OutputNorm:
                    if (spec.NormType != NormType.RmsNorm || !(spec.QkNorm && spec.QkNormScope == QkNormScope.Projection))
                        throw new UserError(Why("Output-LN is only OLMo-2's with RMSNorm and QK-norm over the projections"));
                    return HfFamily.Olmo2;
            }
            // Pre-LN
            if (spec.NormType != NormType.RmsNorm) throw new UserError(Why($"its norm is {spec.NormType}; the Llama family computes RMSNorm"));
            if (spec.ScaleEmbeddings || spec.LogitSoftCap > 0 || spec.SoftCap > 0 || spec.QueryScaleDim != 0)
                throw new UserError(Why("its Pre-LN model uses Gemma-2's embedding scale, soft-capping or score scale"));
            if (spec.QkNorm && spec.QkNormScope == QkNormScope.Projection) throw new UserError(Why("its QK-norm over whole projections with Pre-LN"));
            if (spec.OutputBias && !spec.QkvBias) throw new UserError(Why("it has an o_proj bias without q/k/v biases"));
            if (spec.QkNorm)
            {
                if (spec.QkvBias != spec.OutputBias || spec.MlpBias) throw new UserError(Why("it combines QK-norm with partial or MLP biases"));
                return HfFamily.Qwen3;
            }
            if (spec.QkvBias && !spec.OutputBias)
            {
                if (spec.MlpBias) throw new UserError(Why("it has q/k/v and MLP biases without an o_proj bias"));
                return HfFamily.Qwen2;
            }
            return source?.Family == HfFamily.Mistral && !spec.QkvBias && !spec.MlpBias ? HfFamily.Mistral : HfFamily.Llama;
        }

        /// <summary>The config.json of <paramref name="spec"/> as <paramref name="family"/>, with <paramref name="layers"/> blocks.</summary>
        public static JsonObject Config(ModelSpec spec, HfFamily family, int layers, ScalarType dtype, HfConfig? source, ITextTokenizer? tokenizer)
        {
            string activation = spec.Activation switch { Activation.GegluTanh => "gelu_pytorch_tanh", Activation.Geglu => "gelu", _ => "silu" };
            var c = new JsonObject
            {
                ["architectures"] = new JsonArray(HfConfig.ArchitectureOf(family)),
                ["model_type"] = HfConfig.ModelTypeOf(family),
                ["vocab_size"] = spec.Vocab,
                ["hidden_size"] = spec.Hidden,
                ["intermediate_size"] = spec.FeedForward,
                ["num_hidden_layers"] = layers,
                ["num_attention_heads"] = spec.Heads,
                ["num_key_value_heads"] = spec.KvHeads,
                ["head_dim"] = spec.HeadDim,
                ["max_position_embeddings"] = source?.MaxPositions ?? spec.MaxSeq,
                ["rms_norm_eps"] = spec.Eps,
                ["rope_theta"] = spec.RopeTheta,
                [family == HfFamily.Gemma2 ? "hidden_activation" : "hidden_act"] = activation,
                ["tie_word_embeddings"] = spec.TieEmbeddings,
                ["torch_dtype"] = dtype switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" },
            };
            if (family is HfFamily.Llama or HfFamily.Mistral or HfFamily.Qwen3 or HfFamily.Olmo2)
                c["attention_bias"] = spec.QkvBias && spec.OutputBias;
            if (family == HfFamily.Llama) c["mlp_bias"] = spec.MlpBias;
            if (family == HfFamily.Gemma2)
            {
                c["query_pre_attn_scalar"] = spec.QueryScaleDim != 0 ? spec.QueryScaleDim : spec.HeadDim;
                c["attn_logit_softcapping"] = spec.SoftCap > 0 ? spec.SoftCap : null;
                c["final_logit_softcapping"] = spec.LogitSoftCap > 0 ? spec.LogitSoftCap : null;
                c["sliding_window"] = source?.SlidingWindow ?? spec.MaxSeq;
            }
            if (family == HfFamily.Mistral) c["sliding_window"] = source?.SlidingWindow;
            if (spec.RopeScaling == RopeScaling.Linear)
                c["rope_scaling"] = new JsonObject { ["rope_type"] = "linear", ["factor"] = spec.RopeFactor };
            if (spec.RopeScaling == RopeScaling.Llama3)
                c["rope_scaling"] = new JsonObject
                {
                    ["rope_type"] = "llama3", ["factor"] = spec.RopeFactor, ["low_freq_factor"] = spec.RopeLowFreqFactor,
                    ["high_freq_factor"] = spec.RopeHighFreqFactor, ["original_max_position_embeddings"] = spec.RopeOriginalMaxSeq,
                };
            if (tokenizer is not null) c["eos_token_id"] = tokenizer.EndOfText;
            return c;
        }

        /// <summary>The block's norms whose output LNS scales (their weights get the factor folded in).</summary>
        public static IEnumerable<string> ScaledNorms(Placement placement) => BlockPrograms.For(placement, layerScale: false).ScaledNorms;

        /// <summary>The Hugging Face tensors of <paramref name="model"/>, LNS folded, the removed blocks left out and the rest renumbered.</summary>
        public static Dictionary<string, Tensor> Tensors(TransformerModule model, IReadOnlyCollection<int> remove, ScalarType dtype)
        {
            var spec = model.Spec;
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var keep = Enumerable.Range(1, spec.Layers).Where(l => !remove.Contains(l)).ToList();
            var renumber = keep.Select((l, i) => (l, i)).ToDictionary(p => p.l - 1, p => p.i); // 0-based old → new
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            using var noGrad = no_grad();
            foreach (var mapping in HfWeights.Map(spec, parameters.Keys))
            {
                var source = parameters[mapping.Parameter].detach();
                int layer = HfWeights.LayerOf(mapping.Sources[0].Name);
                if (layer >= 0 && !renumber.ContainsKey(layer)) continue;
                if (layer >= 0)
                {
                    var block = spec.Blocks[layer];
                    string norm = mapping.Parameter.Split('.')[^2];
                    if (block.NormScale != 1.0 && ScaledNorms(block.Placement).Contains(norm))
                        source = Fold(source, block.NormScale, spec.NormType);
                }
                long row = 0;
                foreach (var (name, rows) in mapping.Sources)
                {
                    string renamed = layer >= 0 ? Renumber(name, layer, renumber[layer]) : name;
                    var part = rows < 0 ? source : source.narrow(0, row, rows);
                    result[renamed] = part.dtype == dtype ? part.contiguous().cpu().clone() : part.to(dtype).contiguous().cpu();
                    if (rows >= 0) row += rows;
                }
            }
            return result;
        }

        /// <summary>A norm weight with the factor s folded in: <c>w * s</c>, or for the (1 + w) norm <c>s (1 + w) - 1</c>; computed in fp64.</summary>
        private static Tensor Fold(Tensor weight, double s, NormType type)
        {
            var w = weight.to(ScalarType.Float64);
            var folded = type == NormType.RmsNormPlusOne ? (1 + w) * s - 1 : w * s;
            return folded.to(weight.dtype);
        }

        private static string Renumber(string name, int from, int to)
            => from == to ? name : "model.layers." + to.ToString(CultureInfo.InvariantCulture) + name[("model.layers." + from.ToString(CultureInfo.InvariantCulture)).Length..];
    }
}
