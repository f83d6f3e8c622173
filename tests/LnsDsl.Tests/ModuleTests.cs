using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using LnsDsl.Models;
using LnsDsl.Generators.Tests;
using LnsDsl.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Parameter names, counts, the catalogue and a short training run.</summary>
    public sealed class ModuleTests
    {
        private readonly ITestOutputHelper _output;

        public ModuleTests(ITestOutputHelper output) => _output = output;

        /// <summary>The imported checkpoints' parameters: names and shapes as Hugging Face's, fused as README says.</summary>
        [Fact]
        public void Imported_vocabulary_parameters_have_the_checkpoint_names_and_shapes()
        {
            Dictionary<string, long[]> Shapes(TransformerModule m) => m.named_parameters()
                .Where(p => p.name.StartsWith("layers.1.", StringComparison.Ordinal) || !p.name.StartsWith("layers.", StringComparison.Ordinal))
                .ToDictionary(p => p.name, p => p.parameter.shape);
            using var biases = new TinyHeadDimBiases();
            var b = Shapes(biases);
            Assert.Equal(new long[] { (4 + 2 + 2) * 10, 30 }, b["layers.1.self_attn.qkv_proj.weight"]);
            Assert.Equal(new long[] { (4 + 2 + 2) * 10 }, b["layers.1.self_attn.qkv_proj.bias"]);
            Assert.Equal(new long[] { 30, 40 }, b["layers.1.self_attn.o_proj.weight"]);
            Assert.Equal(new long[] { 30 }, b["layers.1.self_attn.o_proj.bias"]);
            Assert.Equal(new long[] { 10 }, b["layers.1.self_attn.q_norm.weight"]);
            Assert.Equal(new long[] { 2 * 48 }, b["layers.1.mlp.gate_up_proj.bias"]);
            Assert.Equal(new long[] { 30 }, b["layers.1.mlp.down_proj.bias"]);
            Assert.True(biases.layers[1].self_attn.qkv_proj.bias!.eq(0).all().item<bool>());
            using var qwen2 = new TinyQwen2Like();
            var q = Shapes(qwen2);
            Assert.Contains("layers.1.self_attn.qkv_proj.bias", q.Keys);
            Assert.DoesNotContain("layers.1.self_attn.o_proj.bias", q.Keys);
            Assert.Equal(new long[] { 48 }, q["layers.1.mlp.up_proj.bias"]);
            using var olmo = new TinyOlmo2Like();
            var o = Shapes(olmo);
            Assert.Equal(new long[] { 4 * 8 }, o["layers.1.self_attn.q_norm.weight"]);
            Assert.Equal(new long[] { 2 * 8 }, o["layers.1.self_attn.k_norm.weight"]);
            Assert.Equal(new[] { "layers.1.post_attention_layernorm.weight", "layers.1.post_feedforward_layernorm.weight" },
                o.Keys.Where(k => k.EndsWith("layernorm.weight", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal));
            Assert.DoesNotContain("embed_norm.weight", o.Keys);
            using var gemma = new TinyGemma2Like();
            var g = Shapes(gemma);
            Assert.DoesNotContain("embed_norm.weight", g.Keys);
            Assert.DoesNotContain("lm_head.weight", g.Keys);
            Assert.Equal(4, g.Keys.Count(k => k.EndsWith("layernorm.weight", StringComparison.Ordinal)));
            Assert.Equal(new long[] { (4 + 2 + 2) * 16, 32 }, g["layers.1.self_attn.qkv_proj.weight"]);
            Assert.Equal(new long[] { 32, 64 }, g["layers.1.self_attn.o_proj.weight"]);
            // Gemma's (1 + w) norms start at w = 0: an initial gain of 1.
            Assert.True(gemma.norm.weight.eq(0).all().item<bool>());
            Assert.True(gemma.layers[1].pre_feedforward_layernorm!.weight.eq(0).all().item<bool>());
            using var embedNorm = new TinyPreEmbedNormPlusOne();
            Assert.True(embedNorm.embed_norm!.weight.eq(0).all().item<bool>());
            Assert.True(embedNorm.layers[0].self_attn.q_norm!.weight.eq(0).all().item<bool>());
            foreach (var m in new TransformerModule[] { biases, qwen2, olmo, gemma, embedNorm })
                Assert.Equal(m.Spec.ParameterCount, m.parameters().Sum(p => p.numel()));
            Assert.Contains("attention soft-cap 2", gemma.Spec.Describe());
            Assert.Contains("no embedding norm", gemma.Spec.Describe());
        }

        [Fact]
        public void Parameters_carry_llama_checkpoint_names_for_each_placement()
        {
            string[] Names(TransformerModule m) => m.named_parameters().Select(p => p.name).Where(n => n.StartsWith("layers.1.", StringComparison.Ordinal) || !n.StartsWith("layers.", StringComparison.Ordinal)).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            using var pre = new TinyPre();
            Assert.Equal(new[]
            {
                "embed_tokens.weight",
                "layers.1.input_layernorm.weight", "layers.1.mlp.down_proj.weight", "layers.1.mlp.gate_up_proj.weight",
                "layers.1.post_attention_layernorm.weight", "layers.1.self_attn.o_proj.weight", "layers.1.self_attn.qkv_proj.weight",
                "lm_head.weight", "norm.weight",
            }, Names(pre));
            using var post = new TinyPost();
            Assert.Contains("layers.1.post_attention_layernorm.weight", Names(post));
            Assert.Contains("layers.1.post_feedforward_layernorm.weight", Names(post));
            Assert.DoesNotContain("layers.1.input_layernorm.weight", Names(post));
            using var peri = new TinyPeriLns();
            Assert.Equal(new[] { "embed_norm.weight", "embed_tokens.weight", "layers.1.input_layernorm.weight", "layers.1.mlp.down_proj.weight",
                "layers.1.mlp.gate_up_proj.weight", "layers.1.post_attention_layernorm.weight", "layers.1.post_feedforward_layernorm.weight",
                "layers.1.pre_feedforward_layernorm.weight", "layers.1.self_attn.o_proj.weight", "layers.1.self_attn.qkv_proj.weight",
                "lm_head.weight", "norm.weight" }, Names(peri));
            using var tied = new TinyGqaTied();
            Assert.DoesNotContain("lm_head.weight", Names(tied));
            Assert.Equal(new long[] { (4 + 2 + 2) * 8, 32 }, tied.layers[0].self_attn.qkv_proj.weight.shape);
            using var ls = new TinyLayerScale();
            Assert.Contains("layers.1.attn_layer_scale", Names(ls));
            Assert.True(ls.layers[1].mlp_layer_scale!.eq(0.5).all().item<bool>());
            using var gelu = new TinyLayerNormGelu();
            Assert.Contains("layers.1.mlp.up_proj.weight", Names(gelu));
            Assert.Contains("layers.1.self_attn.q_norm.weight", Names(gelu));
            Assert.Contains("norm.bias", Names(gelu));
            // Rotary tables are derived data: they never enter a checkpoint.
            Assert.DoesNotContain(pre.state_dict().Keys, k => k.Contains("rope", StringComparison.Ordinal));
        }

        [Fact]
        public void The_spec_counts_exactly_the_parameters_the_module_has()
        {
            foreach (var entry in ModelCatalog.All.Where(e => e.Spec.ParameterCount < 20_000_000))
            {
                using var model = entry.Create(0);
                long actual = model.parameters().Sum(p => p.numel());
                Assert.True(entry.Spec.ParameterCount == actual, $"{entry.Name}: spec says {entry.Spec.ParameterCount}, module has {actual}");
            }
            // The paper's sizes (not instantiated here): LLaMA-130M has about 134M parameters with an untied head.
            Assert.InRange(Lns130M.Architecture.ParameterCount, 125_000_000, 140_000_000);
            Assert.InRange(Lns1B.Architecture.ParameterCount, 1_200_000_000, 1_400_000_000);
        }

        [Fact]
        public void The_zoo_declares_every_size_in_six_placements_and_the_catalogue_finds_them()
        {
            ModelCatalog.Register(Zoo.Assembly);
            foreach (var size in new[] { "130M", "250M", "350M", "1B", "7B", "6x128", "12x128", "24x128", "12x256", "24x256" })
                foreach (var variant in new[] { "PreLn", "Lns", "PostLn", "MixLn", "PeriLn", "DeepNorm" })
                    Assert.True(ModelCatalog.TryGet(variant + size, out _), $"{variant}{size} is missing");
            var mix = ModelCatalog.Get("MixLn250M").Spec;
            Assert.Equal(6, mix.PostLayers); // k = L/4 as in the paper
            Assert.Equal(2560, mix.FeedForward);
            Assert.Equal(ScaleRule.InvSqrtDepth, ModelCatalog.Get("lns12x256").Spec.Scale); // case-insensitive
            var error = Assert.Throws<UnknownModelException>(() => ModelCatalog.Get("Lns12x265"));
            Assert.Contains("Lns12x256", error.Message);
            Assert.Equal(Zoo.Default, ModelCatalog.Get(Zoo.Default).Name);
        }

        [Fact]
        public void A_user_assembly_compiled_later_is_found_by_name()
        {
            var result = GeneratorHarness.Run("""
                using LnsDsl;
                namespace Lab;
                [TransformerModel(Layers = 2, Hidden = 16, Heads = 2, FeedForward = 24, Vocab = 11)]
                [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
                public partial class LateModel { }
                """);
            Assert.Empty(result.CompileErrors);
            string dir = Path.Combine(Path.GetTempPath(), "lnsdsl-tests-" + Guid.NewGuid().ToString("N"));
            string path = GeneratorHarness.EmitToFile(result, dir);
            Assert.False(ModelCatalog.TryGet("LateModel", out _));
            Assert.Equal(1, ModelCatalog.LoadAssembly(path));
            var entry = ModelCatalog.Get("LateModel");
            Assert.Equal("Lab.LateModel", entry.Spec.FullName);
            using var model = entry.Create(3);
            using var noGrad = no_grad();
            var logits = model.forward(tensor(new long[] { 1, 2, 3 }).reshape(1, 3));
            Assert.Equal(new long[] { 1, 3, 11 }, logits.shape);
        }

        [Fact]
        public void Bad_inputs_are_rejected_with_a_clear_message()
        {
            using var model = new TinyPre();
            var e1 = Assert.Throws<ArgumentException>(() => model.forward(tensor(new long[] { 1, 2, 3 })));
            Assert.Contains("[batch, time]", e1.Message);
            var e2 = Assert.Throws<ArgumentException>(() => model.forward(zeros(1, 3)));
            Assert.Contains("int64", e2.Message);
            var e3 = Assert.Throws<ArgumentException>(() => model.forward(zeros(new long[] { 1, 2049 }, ScalarType.Int64)));
            Assert.Contains("MaxSeq", e3.Message);
        }

        [Fact]
        public void Moving_the_model_keeps_parameters_and_buffers_in_step()
        {
            using var model = new TinyLns(1);
            model.to(ScalarType.Float64);
            Assert.Equal(ScalarType.Float64, model.layers[2].self_attn.qkv_proj.weight.dtype);
            Assert.Equal(ScalarType.Float64, model.named_parameters().First(p => p.name == "layers.2.self_attn.qkv_proj.weight").parameter.dtype);
            using var noGrad = no_grad();
            var logits = model.forward(tensor(new long[] { 1, 2, 3 }).reshape(1, 3));
            Assert.Equal(ScalarType.Float64, logits.dtype);
        }

        [Fact]
        public void A_tiny_model_learns_a_short_text_with_adam()
        {
            const string text = "the curse of depth: deep layers of a pre-ln transformer collapse towards the identity. " +
                                "layernorm scaling multiplies each norm's output by one over the square root of the depth. ";
            var bytes = System.Text.Encoding.ASCII.GetBytes(text).Select(b => (long)(b % 61)).ToArray();
            torch.manual_seed(0);
            using var model = new TinyLns(5);
            var optimizer = optim.Adam(model.parameters(), lr: 3e-3);
            const int steps = 60, time = 32, batch = 8;
            var data = tensor(bytes);
            using var g = new Generator(9);
            float first = 0, last = 0;
            for (int step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                var starts = randint(0, bytes.Length - time - 1, new long[] { batch }, generator: g);
                var x = stack(Enumerable.Range(0, batch).Select(i => data.narrow(0, starts[i].item<long>(), time)));
                var y = stack(Enumerable.Range(0, batch).Select(i => data.narrow(0, starts[i].item<long>() + 1, time)));
                optimizer.zero_grad();
                var logits = model.forward(x);
                var loss = nn.functional.cross_entropy(logits.reshape(-1, 61), y.reshape(-1));
                loss.backward();
                optimizer.step();
                float value = loss.item<float>();
                if (step == 0) first = value;
                last = value;
            }
            _output.WriteLine($"loss {first:F3} -> {last:F3} in {steps} steps (uniform: {Math.Log(61):F3})");
            Assert.InRange(first, Math.Log(61) - 0.5, Math.Log(61) + 0.5);
            Assert.True(last < 0.5 * first, $"loss fell only from {first:F3} to {last:F3}");
        }
    }
}
