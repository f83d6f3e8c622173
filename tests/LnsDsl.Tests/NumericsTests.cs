using System;
using System.Collections.Generic;
using System.Linq;
using LnsDsl.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// The generated (fused, fp32) forward against the unfused float64 <see cref="Reference"/>, for every
    /// placement and scale rule, with random weights large enough that any wrong factor shows.
    /// </summary>
    public sealed class NumericsTests
    {
        /// <summary>Relative tolerance (max abs error over max abs logit) for fp32 against the float64 reference.</summary>
        public const double Tolerance = 1e-5;

        private readonly ITestOutputHelper _output;

        public NumericsTests(ITestOutputHelper output) => _output = output;

        public static IEnumerable<object[]> Cases() => new (string, Func<TransformerModule>, RefConfig)[]
        {
            ("Pre", () => new TinyPre(1), new RefConfig(Kind.Pre)),
            ("Pre+LNS", () => new TinyLns(1), new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth)),
            ("Pre+1/l", () => new TinyInvDepth(1), new RefConfig(Kind.Pre, ScaleRule.InvDepth)),
            ("Post", () => new TinyPost(1), new RefConfig(Kind.Post)),
            ("Mix+LNS", () => new TinyMixLns(1), new RefConfig(Kind.Mix, ScaleRule.InvSqrtDepth, PostLayers: 2)),
            ("Peri+LNS", () => new TinyPeriLns(1), new RefConfig(Kind.Peri, ScaleRule.InvSqrtDepth)),
            ("DeepNorm", () => new TinyDeepNorm(1), new RefConfig(Kind.DeepNorm)),
            ("DeepNorm alpha=3", () => new TinyDeepNormOverrides(1), new RefConfig(Kind.DeepNorm, Alpha: 3.0, RopeTheta: 500)),
            ("LayerScale", () => new TinyLayerScale(1), new RefConfig(Kind.Pre, LayerScale: true)),
            ("GQA+tied+LNS", () => new TinyGqaTied(1), new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, KvHeads: 2, Tied: true)),
            ("LayerNorm+GELU+QkNorm+NoPE+LNS", () => new TinyLayerNormGelu(1),
                new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, NormType: NormType.LayerNorm, Eps: 1e-5, Activation: Activation.Gelu, Rope: false, QkNorm: true)),
        }.Select(c => new object[] { c.Item1, c.Item2, c.Item3 });

        /// <summary>The 2025-26 rivals of LNS (the unfused bench baseline does not implement them either).</summary>
        public static IEnumerable<object[]> Rivals() => new (string, Func<TransformerModule>, RefConfig)[]
        {
            ("ReZero", () => new TinyReZero(1), new RefConfig(Kind.None, ResidualGate: true)),
            ("SkipInit+LNS+LayerScale", () => new TinySkipInitLns(1), new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3, LayerScale: true, ResidualGate: true)),
            ("DyT+LNS", () => new TinyDyTLns(1), new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3, NormType: NormType.DyT)),
            ("DyT Peri-LN", () => new TinyDyTPeri(1), new RefConfig(Kind.Peri, Layers: 2, NormType: NormType.DyT)),
            ("CompleteP", () => new TinyCompleteP(1), CompleteP),
            ("Depth-muP Peri-LN base 2", () => new TinyDepthMuPPeri(1), new RefConfig(Kind.Peri, BranchMultiplier: 1 / Math.Sqrt(4.0 / 2.0))),
            ("BHyT", () => new TinyBHyT(1), new RefConfig(Kind.Pre, Layers: 3, NormType: NormType.BHyT)),
            ("BHyT+LNS kappa 4", () => new TinyBHyTLns(1), BHyTLns),
            ("HybridNorm GQA", () => new TinyHybrid(1), Hybrid),
            ("HybridNorm*", () => new TinyHybridStar(1), new RefConfig(Kind.Hybrid, Layers: 3, QkNorm: true, FirstBlockPreNorm: true)),
            ("mHC (4 streams) + LNS", () => new TinyMhcLns(1), MhcLns),
            ("HC (3 streams, unconstrained) Peri-LN + gate", () => new TinyHcPeri(1), new RefConfig(Kind.Peri, Layers: 2, ResidualGate: true, HyperStreams: 3, HyperManifold: false)),
        }.Select(c => new object[] { c.Item1, c.Item2, c.Item3 });

        private static readonly RefConfig MhcLns = new(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3, HyperStreams: 4);
        private static readonly RefConfig CompleteP = new(Kind.Pre, Layers: 3, BranchMultiplier: 1.0 / 3.0);
        private static readonly RefConfig BHyTLns = new(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3, NormType: NormType.BHyT, Kappa: 4);
        private static readonly RefConfig Hybrid = new(Kind.Hybrid, Layers: 3, KvHeads: 2, QkNorm: true);

        [Theory]
        [MemberData(nameof(Rivals))]
        public void Rivals_equal_the_fp64_reference(string name, Func<TransformerModule> create, RefConfig config) => Generated_forward_equals_the_unfused_reference(name, create, config);

        /// <summary>The vocabulary of imported checkpoints (the unfused bench baseline refuses these models, see BenchTests).</summary>
        public static IEnumerable<object[]> ImportCases() => ImportConfigs().Select(c => new object[] { c.Item1, c.Item2, c.Item3 });

        private static (string, Func<TransformerModule>, RefConfig)[] ImportConfigs() => new (string, Func<TransformerModule>, RefConfig)[]
        {
            ("HeadDim+biases+GeGLU+QkNorm", () => new TinyHeadDimBiases(1), HeadDimBiases),
            ("Qwen2-like: qkv bias, linear RoPE, GELU bias", () => new TinyQwen2Like(1), Qwen2Like),
            ("OLMo-2-like: output norms, projection QK norm, Llama3 RoPE", () => new TinyOlmo2Like(1), Olmo2Like),
            ("Gemma-2-like", () => new TinyGemma2Like(1), Gemma2Like),
            ("Pre-LN + embedding norm + RmsNormPlusOne + QkNorm", () => new TinyPreEmbedNormPlusOne(1), PreEmbedNormPlusOne),
            ("Pre-RMSNorm with bias + LNS, GQA, o_proj bias", () => new TinyRmsNormBiasLns(1), RmsNormBiasLns),
            ("Pre-CRMSNorm + LNS, GELU with biases", () => new TinyCRmsNormLns(1), CRmsNormLns),
        };

        private static readonly RefConfig RmsNormBiasLns = new(Kind.Pre, ScaleRule.InvSqrtDepth, NormType: NormType.RmsNormBias, Eps: 1e-5, KvHeads: 2, OutputBias: true);
        private static readonly RefConfig CRmsNormLns = new(Kind.Pre, ScaleRule.InvSqrtDepth, NormType: NormType.CRmsNorm, Eps: 1e-5, Activation: Activation.Gelu, MlpBias: true);

        private static readonly RefConfig HeadDimBiases = new(Kind.Pre, Hidden: 30, KvHeads: 2, HeadDim: 10, QkvBias: true, OutputBias: true,
            QkNorm: true, Activation: Activation.Geglu, MlpBias: true);
        private static readonly RefConfig Qwen2Like = new(Kind.Pre, ScaleRule.InvSqrtDepth, KvHeads: 2, QkvBias: true, RopeTheta: 100,
            RopeScaling: RopeScaling.Linear, RopeFactor: 4, Activation: Activation.Gelu, MlpBias: true);
        private static readonly RefConfig Olmo2Like = new(Kind.OutputNorm, Eps: 1e-5, KvHeads: 2, QkNorm: true, QkNormScope: QkNormScope.Projection,
            RopeTheta: 100, RopeScaling: RopeScaling.Llama3, RopeFactor: 8, RopeLowFreqFactor: 1, RopeHighFreqFactor: 4, RopeOriginalMaxSeq: 64);
        private static readonly RefConfig PreEmbedNormPlusOne = new(Kind.Pre, NormType: NormType.RmsNormPlusOne, EmbeddingNorm: true, QkNorm: true);
        private static readonly RefConfig Gemma2Like = new(Kind.Peri, KvHeads: 2, HeadDim: 16, ScaleEmbeddings: true, LogitSoftCap: 3.0, Tied: true,
            NormType: NormType.RmsNormPlusOne, EmbeddingNorm: false, SoftCap: 2.0, QueryScaleDim: 24, Activation: Activation.GegluTanh);

        [Theory]
        [MemberData(nameof(ImportCases))]
        public void Imported_vocabulary_equals_the_unfused_reference(string name, Func<TransformerModule> create, RefConfig config)
            => Generated_forward_equals_the_unfused_reference(name, create, config);

        public static IEnumerable<object[]> WrongImports() => new (string, Func<TransformerModule>, RefConfig, Bug)[]
        {
            ("attention soft-cap 4 instead of 2", () => new TinyGemma2Like(1), Gemma2Like with { SoftCap = 4.0 }, Bug.None),
            ("no attention soft-cap", () => new TinyGemma2Like(1), Gemma2Like with { SoftCap = 0 }, Bug.None),
            ("logit soft-cap 6 instead of 3", () => new TinyGemma2Like(1), Gemma2Like with { LogitSoftCap = 6.0 }, Bug.None),
            ("score scale HeadDim^-0.5 instead of QueryScaleDim^-0.5", () => new TinyGemma2Like(1), Gemma2Like with { QueryScaleDim = 0 }, Bug.None),
            ("embeddings times Hidden instead of sqrt(Hidden)", () => new TinyGemma2Like(1), Gemma2Like, Bug.EmbeddingScaleHidden),
            ("embeddings not scaled", () => new TinyGemma2Like(1), Gemma2Like with { ScaleEmbeddings = false }, Bug.None),
            ("exact GELU instead of tanh GELU", () => new TinyGemma2Like(1), Gemma2Like with { Activation = Activation.Geglu }, Bug.None),
            ("RMSNorm w instead of 1 + w", () => new TinyGemma2Like(1), Gemma2Like with { NormType = NormType.RmsNorm }, Bug.None),
            ("ReZero's gates left out", () => new TinyReZero(1), new RefConfig(Kind.None), Bug.None),
            ("DyT read as RMSNorm + bias", () => new TinyDyTLns(1), new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3, NormType: NormType.RmsNormBias), Bug.None),
            ("DyT without LNS", () => new TinyDyTLns(1), new RefConfig(Kind.Pre, Layers: 3, NormType: NormType.DyT), Bug.None),
            ("CompleteP's multiplier left out", () => new TinyCompleteP(1), CompleteP with { BranchMultiplier = 1 }, Bug.None),
            ("Depth-muP's exponent for CompleteP's", () => new TinyCompleteP(1), CompleteP with { BranchMultiplier = 1 / Math.Sqrt(3) }, Bug.None),
            ("BHyT's kappa 10 instead of 4", () => new TinyBHyTLns(1), BHyTLns with { Kappa = 10 }, Bug.None),
            ("BHyT read as RMSNorm", () => new TinyBHyT(1), new RefConfig(Kind.Pre, Layers: 3), Bug.None),
            ("HybridNorm without the v norm", () => new TinyHybrid(1), Hybrid, Bug.NoValueNorm),
            ("mHC without the Sinkhorn projection", () => new TinyMhcLns(1), MhcLns with { HyperManifold = false }, Bug.None),
            ("HybridNorm* read as HybridNorm", () => new TinyHybridStar(1), new RefConfig(Kind.Hybrid, Layers: 3, QkNorm: true), Bug.None),
            ("SiLU gate instead of GELU gate", () => new TinyHeadDimBiases(1), HeadDimBiases with { Activation = Activation.SwiGlu }, Bug.None),
            ("no o_proj bias", () => new TinyHeadDimBiases(1), HeadDimBiases with { OutputBias = false }, Bug.None),
            ("no MLP bias", () => new TinyHeadDimBiases(1), HeadDimBiases with { MlpBias = false }, Bug.None),
            ("no embedding norm", () => new TinyPreEmbedNormPlusOne(1), PreEmbedNormPlusOne with { EmbeddingNorm = null }, Bug.None),
            ("norms (QK norms included) with gain w instead of 1 + w", () => new TinyPreEmbedNormPlusOne(1), PreEmbedNormPlusOne with { NormType = NormType.RmsNorm }, Bug.None),
            ("no qkv bias", () => new TinyQwen2Like(1), Qwen2Like with { QkvBias = false }, Bug.None),
            ("no linear RoPE scaling", () => new TinyQwen2Like(1), Qwen2Like with { RopeScaling = RopeScaling.None }, Bug.None),
            ("linear RoPE factor 2 instead of 4", () => new TinyQwen2Like(1), Qwen2Like with { RopeFactor = 2 }, Bug.None),
            ("no Llama3 RoPE scaling", () => new TinyOlmo2Like(1), Olmo2Like with { RopeScaling = RopeScaling.None }, Bug.None),
            ("linear instead of Llama3 RoPE scaling", () => new TinyOlmo2Like(1), Olmo2Like with { RopeScaling = RopeScaling.Linear }, Bug.None),
            ("Post-LN instead of output norms", () => new TinyOlmo2Like(1), Olmo2Like with { Kind = Kind.Post }, Bug.None),
            ("RMSNorm without its bias", () => new TinyRmsNormBiasLns(1), RmsNormBiasLns with { NormType = NormType.RmsNorm }, Bug.None),
            ("RMSNorm + bias without LNS", () => new TinyRmsNormBiasLns(1), RmsNormBiasLns with { Scale = ScaleRule.None }, Bug.None),
        }.Select(c => new object[] { c.Item1, c.Item2, c.Item3, c.Item4 });

        /// <summary>The import tests have teeth: each plausible misreading of a Hugging Face option moves the logits
        /// by far more than the tolerance.</summary>
        [Theory]
        [MemberData(nameof(WrongImports))]
        public void A_misread_import_option_would_be_caught(string name, Func<TransformerModule> create, RefConfig wrong, Bug bug)
        {
            using var scope = NewDisposeScope();
            using var model = create();
            Reference.Randomize(model, 7);
            var tokens = Tokens(3);
            using var noGrad = no_grad();
            var logits = model.forward(tokens);
            var (expected, _) = new Reference(model, wrong, bug).Forward(tokens);
            double error = Reference.RelativeError(logits, expected);
            _output.WriteLine($"{model.Spec.Name} vs reference with {name}: relative difference {error:E2}");
            Assert.True(error > 100 * Tolerance, $"{name} changes the logits by only {error:E2}: the numeric test could not tell it apart");
        }

        /// <summary>The gradient of a residual gate (ReZero, SkipInit), of a weight behind it and of DyT's alpha, from autograd
        /// on the generated model, against central differences of the fp64 reference's loss.</summary>
        [Theory]
        [InlineData("ReZero", "layers.1.attn_gate")]
        [InlineData("ReZero", "layers.2.mlp.down_proj.weight")]
        [InlineData("SkipInit", "layers.0.mlp_gate")]
        [InlineData("DyT", "layers.1.input_layernorm.alpha")]
        [InlineData("DyT", "norm.alpha")]
        [InlineData("CompleteP", "layers.2.mlp.down_proj.weight")]
        [InlineData("BHyT", "layers.1.input_layernorm.alpha")]
        [InlineData("BHyT", "layers.0.self_attn.qkv_proj.weight")]
        [InlineData("Hybrid", "layers.1.self_attn.v_norm.weight")]
        [InlineData("Hybrid", "layers.0.post_attention_layernorm.weight")]
        [InlineData("mHC", "layers.1.attn_hc.phi")]
        [InlineData("mHC", "layers.2.mlp_hc.bias")]
        [InlineData("mHC", "layers.0.mlp_hc.alpha")]
        public void Gate_gradients_match_finite_differences_of_the_reference(string which, string parameter)
        {
            using var scope = NewDisposeScope();
            using var model = which switch
            {
                "ReZero" => (TransformerModule)new TinyReZero(1), "DyT" => new TinyDyTLns(1), "CompleteP" => new TinyCompleteP(1),
                "BHyT" => new TinyBHyTLns(1), "Hybrid" => new TinyHybrid(1), "mHC" => new TinyMhcLns(1), _ => new TinySkipInitLns(1),
            };
            var config = which switch
            {
                "ReZero" => new RefConfig(Kind.None, ResidualGate: true),
                "DyT" => new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3, NormType: NormType.DyT),
                "CompleteP" => CompleteP,
                "BHyT" => BHyTLns,
                "Hybrid" => Hybrid,
                "mHC" => MhcLns,
                _ => new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3, LayerScale: true, ResidualGate: true),
            };
            Reference.Randomize(model, 11);
            var tokens = Tokens(5);
            var weights = torch.randn(new long[] { tokens.shape[0], tokens.shape[1], model.Spec.Vocab }, generator: new Generator(3)).to(ScalarType.Float64);
            double Loss(Tensor logits) => (logits.to(ScalarType.Float64) * weights).sum().item<double>();
            var p = model.named_parameters().Single(x => x.name == parameter).parameter;
            model.zero_grad();
            (model.forward(tokens).to(ScalarType.Float64) * weights).sum().backward();
            var flat = p.grad!.flatten();
            long index = flat.abs().argmax().item<long>();
            double autograd = flat[index].item<float>();
            double h = 1e-3, numeric;
            using (no_grad())
            {
                var view = p.flatten();
                float saved = view[index].item<float>();
                view[index] = saved + (float)h;
                double plus = Loss(new Reference(model, config).Forward(tokens).Logits);
                view[index] = saved - (float)h;
                double minus = Loss(new Reference(model, config).Forward(tokens).Logits);
                view[index] = saved;
                numeric = (plus - minus) / (2 * h);
            }
            _output.WriteLine($"{which} d/d {parameter}[{index}]: autograd {autograd:G6}, fp64 reference central difference {numeric:G6}");
            Assert.True(Math.Abs(numeric) > 1e-3, $"the loss does not depend on {parameter} ({numeric}): the check has no teeth");
            Assert.True(Math.Abs(autograd - numeric) <= 2e-3 * Math.Abs(numeric), $"autograd {autograd} vs {numeric}");
        }

        [Fact]
        public void Llama3_rope_scaling_keeps_high_frequencies_divides_low_ones_and_ramps_between()
        {
            // Llama 3.1 8B: theta 500000, head 128, factor 8, low 1, high 4, original 8192.
            var inv = Fused.RopeInverseFrequencies(128, 500000, RopeScaling.Llama3, 8, 1, 4, 8192);
            var plain = Fused.RopeInverseFrequencies(128, 500000);
            Assert.Equal(64, inv.Length);
            for (int j = 0; j < 64; j++)
            {
                Assert.Equal(Math.Pow(500000, -2.0 * j / 128), plain[j], 15);
                double wavelen = 2 * Math.PI / plain[j];
                if (wavelen < 8192 / 4.0) Assert.Equal(plain[j], inv[j]);
                else if (wavelen > 8192 / 1.0) Assert.Equal(plain[j] / 8, inv[j], 15);
                else Assert.InRange(inv[j], plain[j] / 8, plain[j]);
            }
            Assert.Equal(plain.Select(f => f / 4), Fused.RopeInverseFrequencies(128, 500000, RopeScaling.Linear, 4));
            // The model's tables use them: TinyOlmo2Like's spec carries its scaling.
            Assert.Equal(RopeScaling.Llama3, TinyOlmo2Like.Architecture.RopeScaling);
            Assert.Equal(64, TinyOlmo2Like.Architecture.RopeOriginalMaxSeq);
        }

        private static Tensor Tokens(long seed, int batch = 2, int time = 9, int vocab = 61)
        {
            using var g = new Generator((ulong)seed);
            return randint(0, vocab, new long[] { batch, time }, dtype: ScalarType.Int64, generator: g);
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void Generated_forward_equals_the_unfused_reference(string name, Func<TransformerModule> create, RefConfig config)
        {
            using var scope = NewDisposeScope();
            using var model = create();
            Reference.Randomize(model, 7);
            var tokens = Tokens(3);
            using var noGrad = no_grad();
            var logits = model.forward(tokens);
            Assert.Equal(new long[] { 2, 9, 61 }, logits.shape);
            var (expected, _) = new Reference(model, config).Forward(tokens);
            double error = Reference.RelativeError(logits, expected);
            _output.WriteLine($"{name}: relative error {error:E2} (tolerance {Tolerance:E0})");
            Assert.True(error <= Tolerance, $"{name}: relative error {error:E3} exceeds {Tolerance:E0}");
        }

        public static IEnumerable<object[]> Bugs() => new[]
        {
            new object[] { Bug.ZeroBasedDepth }, new object[] { Bug.ScaledFinalNorm },
            new object[] { Bug.OnlyAttentionNormScaled }, new object[] { Bug.NoScale },
        };

        /// <summary>The tests have teeth: each classic LNS mistake moves the logits by far more than the tolerance.</summary>
        [Theory]
        [MemberData(nameof(Bugs))]
        public void A_wrong_scale_would_be_caught(Bug bug)
        {
            using var scope = NewDisposeScope();
            foreach (var (model, config) in new (TransformerModule, RefConfig)[]
                     {
                         (new TinyLns(1), new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth)),
                         (new TinyPeriLns(1), new RefConfig(Kind.Peri, ScaleRule.InvSqrtDepth)),
                     })
            {
                Reference.Randomize(model, 7);
                var tokens = Tokens(3);
                using var noGrad = no_grad();
                var logits = model.forward(tokens);
                var (wrong, _) = new Reference(model, config, bug).Forward(tokens);
                double error = Reference.RelativeError(logits, wrong);
                _output.WriteLine($"{model.Spec.Name} vs reference with {bug}: relative difference {error:E2}");
                Assert.True(error > 1000 * Tolerance, $"{bug} changes the logits by only {error:E2}: the numeric test could not tell it apart");
                model.Dispose();
            }
        }

        [Fact]
        public void The_LNS_factors_are_one_over_sqrt_l_on_both_pre_norms_and_never_on_the_final_norm()
        {
            // The spec states what the forward was generated with; the reference test above proves they agree.
            var spec = TinyLns.Architecture;
            Assert.Equal(new[] { 1.0, 1 / Math.Sqrt(2), 1 / Math.Sqrt(3), 0.5 }, spec.Blocks.Select(b => b.NormScale));
            Assert.Equal(new[] { 1.0, 0.5, 1 / 3.0, 0.25 }, TinyInvDepth.Architecture.Blocks.Select(b => b.NormScale));
            Assert.All(TinyPre.Architecture.Blocks, b => Assert.Equal(1.0, b.NormScale));
            // Mix-LN: the Post-LN blocks have no pre-norm; the Pre-LN blocks keep their global depth l.
            Assert.Equal(new[] { Placement.PostLn, Placement.PostLn, Placement.PreLn, Placement.PreLn }, TinyMixLns.Architecture.Blocks.Select(b => b.Placement));
            Assert.Equal(new[] { 1.0, 1.0, 1 / Math.Sqrt(3), 0.5 }, TinyMixLns.Architecture.Blocks.Select(b => b.NormScale));
            Assert.All(TinyDeepNorm.Architecture.Blocks, b => Assert.Equal(Math.Pow(8, 0.25), b.ResidualAlpha, 15));
        }

        [Fact]
        public void Skipping_blocks_and_collecting_hidden_states_match_the_reference()
        {
            using var scope = NewDisposeScope();
            using var model = new TinyLns(2);
            Reference.Randomize(model, 11);
            var config = new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth);
            var tokens = Tokens(5);
            using var noGrad = no_grad();

            using var full = model.Forward(tokens, collectHiddenStates: true);
            var (expectedLogits, expectedStates) = new Reference(model, config).Forward(tokens);
            Assert.Equal(5, full.HiddenStates.Count);
            for (int l = 0; l <= 4; l++)
                Assert.True(Reference.RelativeError(full.HiddenStates[l], expectedStates[l]) <= Tolerance, $"hidden state {l}");
            Assert.True(Reference.RelativeError(full.Logits, expectedLogits) <= Tolerance);

            using var skipped = model.Forward(tokens, skipBlocks: new[] { 3 }, collectHiddenStates: true);
            var (expectedSkipped, expectedSkippedStates) = new Reference(model, config).Forward(tokens, new HashSet<int> { 3 });
            Assert.True(Reference.RelativeError(skipped.Logits, expectedSkipped) <= Tolerance);
            // Skipping block 3 changes nothing before it, passes its input through, and changes the output.
            Assert.True(skipped.HiddenStates[2].equal(full.HiddenStates[2]).all().item<bool>());
            Assert.True(skipped.HiddenStates[3].equal(skipped.HiddenStates[2]).all().item<bool>());
            Assert.True(Reference.RelativeError(skipped.HiddenStates[4], expectedSkippedStates[4]) <= Tolerance);
            Assert.True(Reference.RelativeError(skipped.Logits, full.Logits.to(ScalarType.Float64)) > 1e-3);

            Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, skipBlocks: new[] { 0 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, skipBlocks: new[] { 5 }));
        }

        [Fact]
        public void Causal_a_later_token_never_changes_an_earlier_logit()
        {
            using var scope = NewDisposeScope();
            using var model = new TinyPeriLns(4);
            Reference.Randomize(model, 4);
            using var noGrad = no_grad();
            var a = Tokens(8, batch: 1);
            var b = a.clone();
            b[0, 8] = tensor(0L);
            a[0, 8] = tensor(60L);
            var la = model.forward(a);
            var lb = model.forward(b);
            Assert.True(la[.., ..8].allclose(lb[.., ..8], rtol: 0, atol: 0));
            Assert.False(la[.., 8].allclose(lb[.., 8]));
        }

        /// <summary>The dtype paths of the new vocabulary (embedding factor rounded to bf16, (1 + w) norms and the explicit
        /// attention's softmax in fp32, biases) run in bf16 and stay close to fp32.</summary>
        [Theory]
        [MemberData(nameof(ImportCases))]
        public void Imported_vocabulary_in_bfloat16_stays_close_to_fp32(string name, Func<TransformerModule> create, RefConfig config)
        {
            _ = config;
            using var scope = NewDisposeScope();
            using var model = create();
            Reference.Randomize(model, 7);
            using var noGrad = no_grad();
            if (model.Spec.NormType == NormType.RmsNormPlusOne) // gains 1 + w in [0.6, 1.4] as the other models' w
                foreach (var (n, p) in model.named_parameters())
                    if (n.EndsWith("norm.weight", StringComparison.Ordinal)) p.sub_(1.0);
            var tokens = Tokens(3);
            var fp32 = model.forward(tokens);
            model.to(ScalarType.BFloat16);
            var bf16 = model.forward(tokens);
            Assert.Equal(ScalarType.BFloat16, bf16.dtype);
            double error = Reference.RelativeError(bf16.to(ScalarType.Float32), fp32.to(ScalarType.Float64));
            _output.WriteLine($"{name}: bf16 vs fp32 relative error {error:E2}");
            Assert.InRange(error, 1e-6, 0.1);
        }

        [Fact]
        public void Bfloat16_forward_stays_close_to_fp32()
        {
            using var scope = NewDisposeScope();
            using var model = new TinyLns(1);
            Reference.Randomize(model, 7);
            var tokens = Tokens(3);
            using var noGrad = no_grad();
            var fp32 = model.forward(tokens);
            model.to(ScalarType.BFloat16);
            var bf16 = model.forward(tokens);
            Assert.Equal(ScalarType.BFloat16, bf16.dtype);
            double error = Reference.RelativeError(bf16.to(ScalarType.Float32), fp32.to(ScalarType.Float64));
            _output.WriteLine($"bf16 vs fp32 relative error {error:E2}");
            Assert.InRange(error, 1e-6, 0.1); // bf16 has 8 bits of mantissa: different, but close
        }
    }
}
