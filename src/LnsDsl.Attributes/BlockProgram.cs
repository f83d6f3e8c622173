// Also compiled into LnsDsl.Generators (linked in its .csproj), like Architecture.cs: there LNSDSL_GENERATOR is
// defined and these types are internal. One description of what a block computes, rendered by three back-ends:
// the generated TorchSharp forward (the generator's Emitter), model.py (LnsDsl.Interop's PyTorchModelEmitter) and
// equations (lnsrun describe, model.py's docstrings). The independent references (the tests' fp64 model, the
// bench's unfused composition) are deliberately NOT derived from it.
using System;
using System.Collections.Generic;
using System.Linq;

namespace LnsDsl
{
    /// <summary>A value a block program computes with: the block input, a named intermediate, or an operation on others.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    abstract record BlockExpr;

    /// <summary>A named value: the block's input <c>x</c> or an earlier step's target.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record ValueRef(string Name) : BlockExpr;

    /// <summary>
    /// The model's norm (its <see cref="NormType"/>) with the layer's weights <paramref name="Weight"/> (a parameter name
    /// such as <c>input_layernorm</c>) applied to <paramref name="Input"/>; <paramref name="Scaled"/>: times the block's
    /// depth factor <c>s</c> (LNS's 1/sqrt(l), folded into the weights). <paramref name="Symbol"/> names it in equations.
    /// </summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record NormOf(string Weight, string Symbol, BlockExpr Input, bool Scaled) : BlockExpr;

    /// <summary>The two residual branches of a block.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum BranchKind
    {
        /// <summary>Causal self-attention (<c>self_attn</c>).</summary>
        Attention,
        /// <summary>The feed-forward network (<c>mlp</c>).</summary>
        Mlp,
    }

    /// <summary>A residual branch (attention or MLP) applied to <paramref name="Input"/>.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record Branch(BranchKind Kind, BlockExpr Input) : BlockExpr;

    /// <summary>
    /// <paramref name="Input"/> times a learned gain, the layer's parameter <paramref name="Parameter"/>: per channel
    /// (LayerScale, <c>[Hidden]</c>) or, with <paramref name="Scalar"/>, one number (a residual gate, <c>[1]</c>);
    /// initialised to the spec's <paramref name="InitSetting"/> (<c>LayerScaleInit</c>, <c>ResidualGateInit</c>).
    /// </summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record Gain(BlockExpr Input, string Parameter, string Symbol, bool Scalar = false, string InitSetting = "LayerScaleInit") : BlockExpr;

    /// <summary><paramref name="Input"/> times a constant written as a literal.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record Times(BlockExpr Input, double Factor) : BlockExpr;

    /// <summary>How the skip path enters a residual add.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    enum SkipScale
    {
        /// <summary><c>skip + branch</c>.</summary>
        One,
        /// <summary><c>alpha * skip + branch</c> with the block's residual multiplier (DeepNorm's alpha, a literal).</summary>
        Alpha,
    }

    /// <summary>A residual add: <c>skip + branch</c>, or <c>alpha * skip + branch</c>.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record Residual(BlockExpr Branch, string Skip, SkipScale Scale) : BlockExpr;

    /// <summary>Hyper-connections: the mixing coefficients of one connection (the layer's parameter module
    /// <paramref name="Connection"/>, e.g. <c>attn_hc</c>) computed from the streams <paramref name="Streams"/>:
    /// <c>H_pre</c>, <c>H_post</c> and <c>H_res</c> per token.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record HyperMix(string Connection, string Streams) : BlockExpr;

    /// <summary>Hyper-connections: the branch input <c>H_pre X</c>, the streams <paramref name="Streams"/> mixed into one
    /// by the coefficients <paramref name="Mix"/>.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record HyperRead(string Streams, string Mix) : BlockExpr;

    /// <summary>Hyper-connections' residual add: <c>H_res X + H_post^T Branch</c>, the streams <paramref name="Streams"/>
    /// mixed and the branch output written into each with the coefficients <paramref name="Mix"/>.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record HyperWrite(BlockExpr Branch, string Streams, string Mix) : BlockExpr;

    /// <summary>One step of a block: <paramref name="Target"/> = <paramref name="Value"/>.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record BlockStep(string Target, BlockExpr Value);

    /// <summary>
    /// What one block computes, as steps over named values: the input is <c>x</c>, the last step's target the block's
    /// output. Each back-end renders it with one primitive per operation (a norm function, attention, the MLP, a gain,
    /// a literal factor, a residual add); a new placement or residual rule is a new program here, nothing else.
    /// </summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record BlockProgram(string Name, string Label, IReadOnlyList<BlockStep> Steps)
    {
        /// <summary>The block input's name.</summary>
        public const string Input = "x";

        /// <summary>The layer's norm weights in the order they are applied (the order the runtime registers them).</summary>
        public IReadOnlyList<string> Norms => Steps.SelectMany(s => Walk(s.Value)).OfType<NormOf>().Select(n => n.Weight).Distinct().ToList();

        /// <summary>Each norm with the branch it serves: attention where its step computes attention, else the MLP (a norm
        /// of its own step, as HybridNorm's, serves the MLP after it); DyT and BHyT initialise their scalar by that position.</summary>
        public IReadOnlyList<(string Weight, BranchKind Position)> NormPositions
            => Steps.SelectMany(s => Walk(s.Value).OfType<NormOf>().Select(n => (n.Weight,
                    Walk(s.Value).OfType<Branch>().Any(b => b.Kind == BranchKind.Attention) ? BranchKind.Attention : BranchKind.Mlp)))
                .GroupBy(n => n.Weight).Select(g => g.First()).ToList();

        /// <summary>The hyper-connection modules the program reads (<c>attn_hc</c>, <c>mlp_hc</c>), in order.</summary>
        public IReadOnlyList<string> Connections => Steps.SelectMany(s => Walk(s.Value)).OfType<HyperMix>().Select(m => m.Connection).Distinct().ToList();

        /// <summary>The norms whose output the block's depth factor <c>s</c> multiplies (LNS folds <c>s</c> into their weights).</summary>
        public IReadOnlyList<string> ScaledNorms => Steps.SelectMany(s => Walk(s.Value)).OfType<NormOf>().Where(n => n.Scaled).Select(n => n.Weight).Distinct().ToList();

        /// <summary>Whether a norm output is multiplied by the block's depth factor <c>s</c> (the block takes <c>s</c>).</summary>
        public bool UsesScale => Steps.SelectMany(s => Walk(s.Value)).OfType<NormOf>().Any(n => n.Scaled);

        /// <summary>Whether a residual add multiplies the skip path by the block's alpha.</summary>
        public bool UsesAlpha => Steps.SelectMany(s => Walk(s.Value)).OfType<Residual>().Any(r => r.Scale == SkipScale.Alpha);

        /// <summary>The layer parameters the program reads besides the branches and norms (LayerScale's gains, residual gates).</summary>
        public IReadOnlyList<Gain> Gains => Steps.SelectMany(s => Walk(s.Value)).OfType<Gain>().GroupBy(g => g.Parameter).Select(g => g.First()).ToList();

        /// <summary>The nodes of <paramref name="e"/>, operands before the operation (execution order).</summary>
        public static IEnumerable<BlockExpr> Walk(BlockExpr e)
        {
            var children = e switch
            {
                NormOf n => new[] { n.Input },
                Branch b => new[] { b.Input },
                Gain g => new[] { g.Input },
                Times t => new[] { t.Input },
                Residual r => new[] { r.Branch },
                HyperWrite w => new[] { w.Branch },
                _ => Array.Empty<BlockExpr>(),
            };
            foreach (var c in children)
                foreach (var d in Walk(c)) yield return d;
            yield return e;
        }

        /// <summary>The steps as equations, e.g. <c>h = x + Attn(N(x) * s)</c>.</summary>
        public IEnumerable<string> Equations() => Steps.Select(s => $"{s.Target} = {Equation(s.Value)}");

        /// <summary>One expression as an equation: norms by symbol, <c>* s</c> for the depth factor, <c>alpha * skip</c>.</summary>
        public static string Equation(BlockExpr e) => e switch
        {
            ValueRef v => v.Name,
            NormOf n => $"{n.Symbol}({Equation(n.Input)})" + (n.Scaled ? " * s" : ""),
            Branch b => $"{(b.Kind == BranchKind.Attention ? "Attn" : "Mlp")}({Equation(b.Input)})",
            Gain g => $"{g.Symbol} * {Equation(g.Input)}",
            Times t => $"{t.Factor.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} * {Equation(t.Input)}",
            Residual r => (r.Scale == SkipScale.Alpha ? "alpha * " : "") + $"{r.Skip} + {Equation(r.Branch)}",
            HyperMix m => $"mHC_{m.Connection.Replace("_hc", "")}({m.Streams})",
            HyperRead r => $"H_pre({r.Mix}) {r.Streams}",
            HyperWrite w => $"H_res({w.Mix}) {w.Streams} + H_post({w.Mix})^T {Equation(w.Branch)}",
            _ => throw new ArgumentOutOfRangeException(nameof(e), e, "an operation without an equation"),
        };

        public bool Equals(BlockProgram? other)
            => other is not null && Name == other.Name && Label == other.Label && Steps.SequenceEqual(other.Steps);

        public override int GetHashCode() => Steps.Aggregate(Name.GetHashCode(), (h, s) => h * 31 + s.GetHashCode());
    }

    /// <summary>
    /// The program builder: the one place that says what each placement computes. The generator emits it as TorchSharp,
    /// the PyTorch export as model.py, <c>lnsrun describe</c> as equations, and the runtime registers the norms it names.
    /// </summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    static class BlockPrograms
    {
        private static readonly ValueRef X = new(BlockProgram.Input), H = new("h");

        /// <summary>The program of a block of <paramref name="placement"/>; <paramref name="layerScale"/>: each branch output
        /// times its LayerScale gain; <paramref name="gate"/>: then times its residual gate (ReZero, SkipInit);
        /// <paramref name="branchMultiplier"/> (a depth rule's <c>(L / base)^-a</c>; 1: none): then times that constant.</summary>
        public static BlockProgram For(Placement placement, bool layerScale, ResidualGate gate = ResidualGate.None, double branchMultiplier = 1.0, bool hyperConnections = false)
        {
            var program = Plain(placement, layerScale, gate, branchMultiplier);
            return hyperConnections ? WithHyperConnections(program) : program;
        }

        /// <summary>
        /// The program with every residual add <c>T = skip + branch(skip)</c> replaced by a hyper-connection over the streams
        /// <c>skip</c>: <c>m = mHC(skip)</c>, <c>u = H_pre(m) skip</c>, <c>T = H_res(m) skip + H_post(m)^T branch(u)</c>.
        /// Only for programs whose every step is such an add (<see cref="HyperConnections.Supports"/>).
        /// </summary>
        public static BlockProgram WithHyperConnections(BlockProgram program)
        {
            var steps = new List<BlockStep>();
            foreach (var step in program.Steps)
            {
                if (step.Value is not Residual { Scale: SkipScale.One } r)
                    throw new ArgumentException($"{program.Label}: step {step.Target} is not a residual add x + F(x); hyper-connections cannot carry it", nameof(program));
                string which = BlockProgram.Walk(r.Branch).OfType<Branch>().First().Kind == BranchKind.Attention ? "attn" : "mlp";
                string mix = "m_" + which, input = "u_" + which;
                steps.Add(new BlockStep(mix, new HyperMix(which + "_hc", r.Skip)));
                steps.Add(new BlockStep(input, new HyperRead(r.Skip, mix)));
                steps.Add(new BlockStep(step.Target, new HyperWrite(Rename(r.Branch, r.Skip, input), r.Skip, mix)));
            }
            return new BlockProgram(program.Name, program.Label + " + mHC", steps);
        }

        /// <summary><paramref name="e"/> with every reference to <paramref name="from"/> read from <paramref name="to"/>.</summary>
        private static BlockExpr Rename(BlockExpr e, string from, string to) => e switch
        {
            ValueRef v => v.Name == from ? new ValueRef(to) : v,
            NormOf n => n with { Input = Rename(n.Input, from, to) },
            Branch b => b with { Input = Rename(b.Input, from, to) },
            Gain g => g with { Input = Rename(g.Input, from, to) },
            Times t => t with { Input = Rename(t.Input, from, to) },
            _ => throw new ArgumentException($"{e.GetType().Name} inside a residual branch", nameof(e)),
        };

        private static BlockProgram Plain(Placement placement, bool layerScale, ResidualGate gate, double branchMultiplier)
        {
            BlockExpr Attn(BlockExpr input) => WithGain(new Branch(BranchKind.Attention, input), "attn_layer_scale", "g_attn");
            BlockExpr Mlp(BlockExpr input) => WithGain(new Branch(BranchKind.Mlp, input), "mlp_layer_scale", "g_mlp");
            BlockExpr WithGain(BlockExpr branch, string parameter, string symbol)
            {
                var gained = layerScale ? new Gain(branch, parameter, symbol) : branch;
                bool attention = parameter.StartsWith("attn", StringComparison.Ordinal);
                var gated = gate == ResidualGate.Scalar
                    ? new Gain(gained, attention ? "attn_gate" : "mlp_gate", attention ? "r_attn" : "r_mlp", Scalar: true, InitSetting: "ResidualGateInit")
                    : gained;
                return branchMultiplier != 1.0 ? new Times(gated, branchMultiplier) : gated;
            }
            BlockProgram Program(string label, BlockExpr h, BlockExpr y) => new(placement.ToString(), label, new[] { new BlockStep("h", h), new BlockStep("y", y) });

            return placement switch
            {
                Placement.PreLn => Program("Pre-LN",
                    new Residual(Attn(new NormOf("input_layernorm", "N", X, Scaled: true)), "x", SkipScale.One),
                    new Residual(Mlp(new NormOf("post_attention_layernorm", "N", H, Scaled: true)), "h", SkipScale.One)),
                Placement.PostLn => Program("Post-LN",
                    new NormOf("post_attention_layernorm", "N", new Residual(Attn(X), "x", SkipScale.One), Scaled: false),
                    new NormOf("post_feedforward_layernorm", "N", new Residual(Mlp(H), "h", SkipScale.One), Scaled: false)),
                Placement.PeriLn => Program("Peri-LN",
                    new Residual(WithGain(new NormOf("post_attention_layernorm", "N_out", new Branch(BranchKind.Attention, new NormOf("input_layernorm", "N_in", X, Scaled: true)), Scaled: false), "attn_layer_scale", "g_attn"), "x", SkipScale.One),
                    new Residual(WithGain(new NormOf("post_feedforward_layernorm", "N_out", new Branch(BranchKind.Mlp, new NormOf("pre_feedforward_layernorm", "N_in", H, Scaled: true)), Scaled: false), "mlp_layer_scale", "g_mlp"), "h", SkipScale.One)),
                Placement.DeepNorm => Program("DeepNorm",
                    new NormOf("post_attention_layernorm", "N", new Residual(Attn(X), "x", SkipScale.Alpha), Scaled: false),
                    new NormOf("post_feedforward_layernorm", "N", new Residual(Mlp(H), "h", SkipScale.Alpha), Scaled: false)),
                Placement.OutputNorm => Program("Output-LN (OLMo-2)",
                    new Residual(WithGain(new NormOf("post_attention_layernorm", "N", new Branch(BranchKind.Attention, X), Scaled: false), "attn_layer_scale", "g_attn"), "x", SkipScale.One),
                    new Residual(WithGain(new NormOf("post_feedforward_layernorm", "N", new Branch(BranchKind.Mlp, H), Scaled: false), "mlp_layer_scale", "g_mlp"), "h", SkipScale.One)),
                Placement.NoNorm => Program("Norm-free",
                    new Residual(Attn(X), "x", SkipScale.One),
                    new Residual(Mlp(H), "h", SkipScale.One)),
                // HybridNorm: the attention's q, k and v are normalised inside it (the model's QKV norm), the FFN's input is
                // normalised and the normalised value is what the FFN's residual adds to (the paper's code: z + FFN(z)).
                Placement.Hybrid => new BlockProgram(placement.ToString(), "HybridNorm", new[]
                {
                    new BlockStep("h", new Residual(Attn(X), "x", SkipScale.One)),
                    new BlockStep("z", new NormOf("post_attention_layernorm", "N", H, Scaled: false)),
                    new BlockStep("y", new Residual(Mlp(new ValueRef("z")), "z", SkipScale.One)),
                }),
                _ => throw new ArgumentOutOfRangeException(nameof(placement), placement, "a placement without a block program"),
            };
        }
    }
}
