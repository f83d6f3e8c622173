using System;
using System.Linq;
using LnsDsl.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Measured standard deviations of the initialised weights against the formulas.</summary>
    public sealed class InitTests
    {
        // The std of n >= 65,536 normal draws has a relative sampling error of about 1/sqrt(2n) <= 0.3%;
        // 3% is ten times that and still far below the smallest factor checked (1/sqrt(2) = 29% off).
        private const double RelTol = 0.03;
        private readonly ITestOutputHelper _output;

        public InitTests(ITestOutputHelper output) => _output = output;

        private void AssertStd(Tensor weight, double expected, string what)
        {
            double measured = weight.std().item<float>();
            _output.WriteLine($"{what}: std {measured:G5}, formula {expected:G5}");
            Assert.True(Math.Abs(measured / expected - 1) < RelTol, $"{what}: std {measured:G5}, expected {expected:G5}");
            Assert.True(Math.Abs(weight.mean().item<float>()) < 4 * expected / Math.Sqrt(weight.numel()) + 1e-7, $"{what}: mean is not 0");
        }

        private static (Tensor Q, Tensor K, Tensor V) Qkv(TransformerModule m, int block)
        {
            var w = m.layers[block].self_attn.qkv_proj.weight;
            long q = m.Spec.Heads * m.Spec.HeadDim, kv = m.Spec.KvHeads * m.Spec.HeadDim;
            return (w.narrow(0, 0, q), w.narrow(0, q, kv), w.narrow(0, q + kv, kv));
        }

        [Fact]
        public void Plain_init_draws_every_projection_from_N_0_002()
        {
            using var m = new InitPlain(1);
            AssertStd(m.embed_tokens.weight, 0.02, "embed_tokens");
            foreach (int b in new[] { 0, 7 })
            {
                var (q, k, v) = Qkv(m, b);
                AssertStd(q, 0.02, $"block {b + 1} q");
                AssertStd(v, 0.02, $"block {b + 1} v");
                AssertStd(m.layers[b].self_attn.o_proj.weight, 0.02, $"block {b + 1} o_proj");
                AssertStd(m.layers[b].mlp.down_proj.weight, 0.02, $"block {b + 1} down_proj");
            }
            Assert.True(m.norm.weight.eq(1).all().item<bool>());
            Assert.True(m.layers[3].input_layernorm!.weight.eq(1).all().item<bool>());
        }

        [Fact]
        public void ScaledByDepth_divides_o_and_down_by_sqrt_2L()
        {
            using var m = new InitScaledByDepth(1);
            AssertStd(m.embed_tokens.weight, 0.5, "embed_tokens (EmbeddingStd)");
            AssertStd(m.lm_head!.weight, 0.03, "lm_head");
            double scaled = 0.03 / Math.Sqrt(2 * 8);
            foreach (int b in new[] { 0, 4, 7 })
            {
                AssertStd(m.layers[b].self_attn.o_proj.weight, scaled, $"block {b + 1} o_proj");
                AssertStd(m.layers[b].mlp.down_proj.weight, scaled, $"block {b + 1} down_proj");
                AssertStd(Qkv(m, b).Q, 0.03, $"block {b + 1} q (not scaled)");
                AssertStd(m.layers[b].mlp.gate_up_proj!.weight, 0.03, $"block {b + 1} gate_up (not scaled)");
            }
        }

        [Fact]
        public void ScaledByLayer_divides_o_and_down_by_sqrt_2l()
        {
            using var m = new InitScaledByLayer(1);
            for (int l = 1; l <= 8; l++)
            {
                AssertStd(m.layers[l - 1].self_attn.o_proj.weight, 0.02 / Math.Sqrt(2 * l), $"block {l} o_proj");
                AssertStd(m.layers[l - 1].mlp.down_proj.weight, 0.02 / Math.Sqrt(2 * l), $"block {l} down_proj");
            }
        }

        [Fact]
        public void DeepNorm_uses_beta_scaled_xavier_on_v_o_and_mlp_and_gain_1_on_q_k()
        {
            using var m = new InitDeepNorm(1);
            double beta = Math.Pow(8 * 8, -0.25);
            Assert.Equal(beta, m.Spec.Beta, 15);
            Assert.Equal(Math.Pow(2 * 8, 0.25), m.Spec.Alpha, 15);
            double Xavier(double gain, int fanIn, int fanOut) => gain * Math.Sqrt(2.0 / (fanIn + fanOut));
            var (q, k, v) = Qkv(m, 2);
            AssertStd(q, Xavier(1, 256, 256), "q (gain 1)");
            AssertStd(k, Xavier(1, 256, 256), "k (gain 1)");
            AssertStd(v, Xavier(beta, 256, 256), "v (gain beta)");
            AssertStd(m.layers[2].self_attn.o_proj.weight, Xavier(beta, 256, 256), "o_proj (gain beta)");
            AssertStd(m.layers[2].mlp.gate_up_proj!.weight, Xavier(beta, 256, 512), "gate_up (gain beta)");
            AssertStd(m.layers[2].mlp.down_proj.weight, Xavier(beta, 512, 256), "down_proj (gain beta)");
        }

        [Fact]
        public void The_seed_determines_the_weights()
        {
            using var a = new TinyLns(42);
            using var b = new TinyLns(42);
            using var c = new TinyLns(43);
            var pa = a.parameters().ToList();
            var pb = b.parameters().ToList();
            var pc = c.parameters().ToList();
            Assert.All(pa.Zip(pb), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
            Assert.False(pa[0].equal(pc[0]).all().item<bool>());
        }
    }
}
