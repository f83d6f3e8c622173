using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LnsDsl
{
    /// <summary>
    /// The base of every generated model: it owns the parameters (named as in LLaMA checkpoints, built from
    /// the <see cref="ModelSpec"/>), the rotary tables, and the public entry points. The generated subclass
    /// supplies the computation (<see cref="Run"/>, straight-line code with each block's placement and scale
    /// as literals) and the initialisation (<see cref="Initialize"/>).
    /// </summary>
    public abstract class TransformerModule : nn.Module<Tensor, Tensor>
    {
        /// <summary><c>embed_tokens.weight</c>, <c>[Vocab, Hidden]</c>.</summary>
        public readonly EmbeddingWeight embed_tokens;
        /// <summary>The norm of the embedding output (Peri-LN's default), else null.</summary>
        public readonly NormWeight? embed_norm;
        /// <summary>The decoder blocks, <c>layers.{l-1}</c> for block l.</summary>
        public readonly ModuleList<DecoderLayer> layers;
        /// <summary>The final norm (never depth-scaled).</summary>
        public readonly NormWeight norm;
        /// <summary>The output head, or null with tied embeddings.</summary>
        public readonly LinearWeight? lm_head;

        // Rotary tables, cos and signed sin (Fused.SignedSin); null without RoPE.
        private readonly RotaryTables? _rope;

        /// <summary>The resolved architecture.</summary>
        public ModelSpec Spec { get; }

        /// <summary>The 0-based index i of the block a parameter named <c>layers.{i}.*</c> belongs to (block l = i + 1),
        /// or -1 for a parameter outside the blocks (embedding, final norm, head).</summary>
        public static int LayerIndexOf(string parameterName)
        {
            const string prefix = "layers.";
            if (!parameterName.StartsWith(prefix, System.StringComparison.Ordinal)) return -1;
            int dot = parameterName.IndexOf('.', prefix.Length);
            var digits = dot < 0 ? parameterName.AsSpan(prefix.Length) : parameterName.AsSpan(prefix.Length, dot - prefix.Length);
            return int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i) ? i : -1;
        }

        /// <summary>
        /// The dtype the forward computes in (matmuls, attention, the activations between them), or null: the
        /// parameters' own. Mixed precision (<c>--dtype bf16</c>) keeps fp32 parameters and sets this to bf16: the
        /// generated code casts each weight at its use (<see cref="Weight"/>) and the embedding output, the norms keep
        /// their statistics in fp32 (<see cref="Fused.RmsNorm"/>, <see cref="Fused.LayerNorm"/>), the explicit
        /// attention its softmax, and the loss casts the logits (returned in this dtype) to fp32.
        /// </summary>
        public ScalarType? ComputeDtype { get; set; }

        /// <summary>A parameter at its use in the forward, in <see cref="ComputeDtype"/> (<see cref="Fused.Weight"/>:
        /// the parameter itself when no cast is needed).</summary>
        protected Tensor Weight(Tensor parameter) => Fused.Weight(parameter, ComputeDtype);

        /// <param name="spec">The generated model's spec.</param>
        /// <param name="seed">Seed of the initialisation's random generator.</param>
        protected TransformerModule(ModelSpec spec, long seed) : base(spec.Name)
        {
            Spec = spec ?? throw new ArgumentNullException(nameof(spec));
            embed_tokens = new EmbeddingWeight(nameof(embed_tokens), spec.Vocab, Norms.StreamWidth(spec.NormType, spec.Hidden));
            register_module(nameof(embed_tokens), embed_tokens);
            if (spec.EmbeddingNorm)
            {
                embed_norm = NormWeight.For(spec, nameof(embed_norm), spec.TanhAlphaFinal);
                register_module(nameof(embed_norm), embed_norm);
            }
            layers = new ModuleList<DecoderLayer>(spec.Blocks.Select(b => new DecoderLayer(spec, b)).ToArray());
            register_module(nameof(layers), layers);
            norm = NormWeight.For(spec, nameof(norm), spec.TanhAlphaFinal);
            register_module(nameof(norm), norm);
            if (!spec.TieEmbeddings)
            {
                lm_head = new LinearWeight(nameof(lm_head), spec.Vocab, spec.Hidden);
                register_module(nameof(lm_head), lm_head);
            }
            if (spec.Rope)
            {
                var (cos, sin) = Fused.RopeTables(spec); // honours spec.RopeScaling
                _rope = new RotaryTables(cos, Fused.SignedSin(sin));
                sin.Dispose();
            }
            if (_forLoading) return; // the weights are about to be overwritten: no initialisation
            using var generator = new Generator((ulong)seed);
            using (no_grad())
                Initialize(generator);
        }

        [ThreadStatic] private static bool _forLoading;

        /// <summary>
        /// Creates a model (with <paramref name="create"/>, e.g. a catalogue entry's factory) whose parameters are
        /// allocated in <paramref name="dtype"/> and left uninitialised, for loading weights into: a large checkpoint
        /// then needs no fp32 copy and no initialisation pass.
        /// </summary>
        public static TransformerModule CreateForLoading(Func<TransformerModule> create, ScalarType dtype)
        {
            var previous = get_default_dtype();
            set_default_dtype(dtype);
            _forLoading = true;
            try { return create(); }
            finally
            {
                _forLoading = false;
                set_default_dtype(previous);
            }
        }

        /// <summary>The generated computation. <paramref name="skip"/>: 0-based, one flag per block (null: none
        /// skipped). <paramref name="states"/>: when not null, receives the embedding output then each block's output.</summary>
        protected abstract Tensor Run(Tensor tokens, bool[]? skip, List<Tensor>? states);

        /// <summary>The generated initialisation, called once from the constructor under <c>no_grad</c>.</summary>
        protected abstract void Initialize(Generator generator);

        /// <summary>Logits <c>[B, T, Vocab]</c> for tokens <c>[B, T]</c> (int64).</summary>
        public override Tensor forward(Tensor tokens)
        {
            CheckTokens(tokens);
            return Run(tokens, null, null);
        }

        /// <summary>
        /// The forward pass with analysis hooks: skip any set of blocks (the residual stream passes through them
        /// unchanged) and/or collect the hidden states. <paramref name="skipBlocks"/> holds 1-based block indices l
        /// (as <see cref="BlockSpec.Index"/>). With <paramref name="collectHiddenStates"/>, the result's
        /// <see cref="ForwardResult.HiddenStates"/> holds L + 1 tensors <c>[B, T, Hidden]</c>: index 0 is the input of
        /// block 1 (the embedding output), index l the output of block l (the input itself where l is skipped).
        /// </summary>
        public ForwardResult Forward(Tensor tokens, IEnumerable<int>? skipBlocks = null, bool collectHiddenStates = false)
        {
            CheckTokens(tokens);
            bool[]? skip = null;
            if (skipBlocks is not null)
            {
                skip = new bool[Spec.Layers];
                foreach (int l in skipBlocks)
                {
                    if (l < 1 || l > Spec.Layers)
                        throw new ArgumentOutOfRangeException(nameof(skipBlocks), l, $"block indices are 1-based and {Spec.Name} has {Spec.Layers} blocks (1..{Spec.Layers})");
                    skip[l - 1] = true;
                }
            }
            var states = collectHiddenStates ? new List<Tensor>(Spec.Layers + 1) : null;
            var logits = Run(tokens, skip, states);
            return new ForwardResult(logits, (IReadOnlyList<Tensor>?)states ?? Array.Empty<Tensor>());
        }

        /// <summary>The rotary cos and signed sin tables (<see cref="Fused.ApplyRope"/>) in the dtype and on the device of <paramref name="like"/> (cached).</summary>
        protected (Tensor Cos, Tensor Sin) RopeTables(Tensor like)
        {
            if (_rope is null)
                throw new InvalidOperationException($"{Spec.Name} is declared without rotary embeddings");
            return _rope.For(like);
        }

        /// <summary>Records a hidden state (an alias, moved out of the forward's dispose scope); a compressed (CRMSNorm)
        /// stream is recorded whole (<see cref="Fused.Decompress"/>), so that the layer metrics see the same vectors as
        /// in the uncompressed model.</summary>
        protected void Record(List<Tensor>? states, Tensor x)
        {
            if (states is null) return;
            // Hyper-connections: the streams' sum, the one stream the head reads.
            var state = Spec.HyperStreams > 0 ? Fused.HyperMerge(x) : Spec.NormType == NormType.CRmsNorm ? Fused.Decompress(x) : x.alias();
            states.Add(state.MoveToOuterDisposeScope());
        }

        /// <summary>Token embedding lookup: <c>[B, T]</c> → <c>[B, T, StreamWidth]</c> (<see cref="Norms.StreamWidth"/>: Hidden, or Hidden - 1 for CRMSNorm).</summary>
        protected Tensor Embed(Tensor tokens)
        {
            using var flat = tokens.reshape(-1);
            var x = embed_tokens.weight.index_select(0, flat).view(tokens.shape[0], tokens.shape[1], embed_tokens.weight.shape[1]);
            // Mixed precision: the rows looked up, not the whole table, are cast (the generated Run's dispose scope
            // holds the fp32 rows until the forward ends).
            return ComputeDtype is { } d && x.dtype != d ? x.to(d) : x;
        }

        /// <summary>Draws the block's projections from N(0, std) slice by slice (q, k, v rows of the fused
        /// <c>qkv_proj</c>; gate, up rows of <c>gate_up_proj</c>).</summary>
        protected void InitBlock(int index, Generator generator, double q, double k, double v, double o, double gate, double up, double down)
        {
            var layer = layers[index];
            long qRows = (long)Spec.Heads * Spec.HeadDim, kvRows = (long)Spec.KvHeads * Spec.HeadDim;
            var qkv = layer.self_attn.qkv_proj.weight;
            Fused.InitNormal(qkv, 0, qRows, q, generator);
            Fused.InitNormal(qkv, qRows, kvRows, k, generator);
            Fused.InitNormal(qkv, qRows + kvRows, kvRows, v, generator);
            bool compressed = Spec.NormType == NormType.CRmsNorm; // o_proj and down_proj write Hidden - 1 coordinates
            if (compressed) Fused.InitNormalCompressed(layer.self_attn.o_proj.weight, o, generator, 0);
            else Fused.InitNormal(layer.self_attn.o_proj.weight, o, generator);
            if (layer.mlp.gate_up_proj is { } gateUp)
            {
                Fused.InitNormal(gateUp.weight, 0, Spec.FeedForward, gate, generator);
                Fused.InitNormal(gateUp.weight, Spec.FeedForward, Spec.FeedForward, up, generator);
            }
            else
            {
                Fused.InitNormal(layer.mlp.up_proj!.weight, up, generator);
            }
            if (compressed) Fused.InitNormalCompressed(layer.mlp.down_proj.weight, down, generator, 0);
            else Fused.InitNormal(layer.mlp.down_proj.weight, down, generator);
        }

        private void CheckTokens(Tensor tokens)
        {
            if (tokens.dim() != 2)
                throw new ArgumentException($"tokens must be [batch, time] (2 dimensions), got {tokens.dim()} dimensions", nameof(tokens));
            if (tokens.dtype != ScalarType.Int64)
                throw new ArgumentException($"tokens must be int64, got {tokens.dtype}", nameof(tokens));
            if (tokens.shape[1] > Spec.MaxSeq)
                throw new ArgumentException($"sequence length {tokens.shape[1]} exceeds {Spec.Name}'s MaxSeq {Spec.MaxSeq}; declare a larger MaxSeq in [TransformerModel]", nameof(tokens));
        }
    }

    /// <summary>Logits and, when asked for, the hidden states. Disposing it disposes all of them.</summary>
    public sealed class ForwardResult : IDisposable
    {
        public ForwardResult(Tensor logits, IReadOnlyList<Tensor> hiddenStates)
        {
            Logits = logits;
            HiddenStates = hiddenStates;
        }

        /// <summary><c>[B, T, Vocab]</c>.</summary>
        public Tensor Logits { get; }

        /// <summary>Empty unless collected: L + 1 tensors, index 0 the embedding output, index l block l's output.</summary>
        public IReadOnlyList<Tensor> HiddenStates { get; }

        public void Dispose()
        {
            Logits.Dispose();
            foreach (var h in HiddenStates) h.Dispose();
        }
    }
}
