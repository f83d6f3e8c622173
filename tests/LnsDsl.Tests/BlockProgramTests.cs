using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using LnsDsl.Compilation;
using LnsDsl.Generators.Tests;
using LnsDsl.Interop.PyTorch;
using LnsDsl.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// The block program: one description of what a block computes, rendered as TorchSharp (the generated code), as
    /// model.py, and as equations. A block the builder does not have (the toy <c>x = x + 0.5 * F(N(x) * s)</c>) needs
    /// only its program: both back-ends render it into a working model, checked against the independent fp64 reference.
    /// </summary>
    public sealed class BlockProgramTests : IDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-program-" + Guid.NewGuid().ToString("N"));

        public BlockProgramTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
        }

        public void Dispose()
        {
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        /// <summary>The toy: <c>h = x + 0.5 * Attn(N(x) * s)</c>, <c>y = h + 0.5 * Mlp(N(h) * s)</c>, on a Pre-LN layer's norms.
        /// Named PreLn so that it takes the Pre-LN block's place in a model.</summary>
        private static readonly BlockProgram Toy = new("PreLn", "Toy (half branches)", new[]
        {
            new BlockStep("h", new Residual(new Times(new Branch(BranchKind.Attention, new NormOf("input_layernorm", "N", new ValueRef("x"), Scaled: true)), 0.5), "x", SkipScale.One)),
            new BlockStep("y", new Residual(new Times(new Branch(BranchKind.Mlp, new NormOf("post_attention_layernorm", "N", new ValueRef("h"), Scaled: true)), 0.5), "h", SkipScale.One)),
        });

        [Fact]
        public void The_builder_describes_each_placement_once_for_both_back_ends()
        {
            var pre = BlockPrograms.For(Placement.PreLn, layerScale: false);
            Assert.Equal(new[] { "h = x + Attn(N(x) * s)", "y = h + Mlp(N(h) * s)" }, pre.Equations());
            Assert.Equal(new[] { "input_layernorm", "post_attention_layernorm" }, pre.Norms);
            Assert.Equal(new[] { "var h = Attention(layer.self_attn, Norm(x, layer.input_layernorm!, s)).add_(x);", "var y = Mlp(layer.mlp, Norm(h, layer.post_attention_layernorm!, s)).add_(h);" },
                TorchSharpBlock.Body(pre, 1).Skip(1).Take(2));
            var deep = BlockPrograms.For(Placement.DeepNorm, layerScale: true);
            Assert.Equal(new[] { "h = N(alpha * x + g_attn * Attn(x))", "y = N(alpha * h + g_mlp * Mlp(h))" }, deep.Equations());
            Assert.Contains("torch.add(self.self_attn(x) * self.attn_layer_scale, x, alpha=self.alpha)", PyTorchModelEmitter.BlockClassSource(TinyDeepNorm.Architecture, deep));
            Assert.Equal(new[] { "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm" }, BlockPrograms.For(Placement.PeriLn, false).Norms);
            // The runtime registers exactly the norms each program names, in its order.
            foreach (var model in new TransformerModule[] { new TinyPeriLns(0), new TinyMixLns(0), new TinyDeepNorm(0), new TinyLayerScale(0) })
                using (model)
                    foreach (var b in model.Spec.Blocks)
                    {
                        var names = model.named_parameters().Select(p => p.name).Where(n => n.StartsWith($"layers.{b.Index - 1}.", StringComparison.Ordinal) && n.Contains("layernorm"))
                            .Select(n => n.Split('.')[2]).Distinct();
                        Assert.Equal(BlockPrograms.For(b.Placement, model.Spec.LayerScale).Norms, names);
                    }
            // describe prints the programs.
            string described = TinyMixLns.Architecture.Describe();
            Assert.Contains("Post-LN (blocks 1..2)", described);
            Assert.Contains("    h = N(x + Attn(x))", described);
            Assert.Contains("    y = h + Mlp(N(h) * s)", described);
        }

        [Fact]
        public void A_new_block_needs_only_its_program_to_run_in_both_back_ends()
        {
            // TorchSharp: the generator's output for a Pre-LN + LNS model, its block method rendered from the toy program
            // by the same renderer the generator uses, compiled as a user's generated model would be.
            var generated = GeneratorHarness.Run("""
                using LnsDsl;
                namespace LnsDsl.Tests.Toy;
                [TransformerModel(Layers = 3, Hidden = 32, Heads = 4, FeedForward = 48, Vocab = 61)]
                [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
                public partial class ToyLns { }
                """);
            Assert.Empty(generated.CompileErrors);
            string source = generated.Generated.Single().Source;
            var method = new Regex(@"(private global::TorchSharp\.torch\.Tensor PreLnBlock\(global::LnsDsl\.DecoderLayer layer, global::TorchSharp\.torch\.Tensor x, double s\)\s*\{)(.*?)(\n        \})", RegexOptions.Singleline);
            Assert.Matches(method, source);
            string body = string.Concat(TorchSharpBlock.Body(Toy, 1).Select(l => "\n            " + l));
            string toySource = method.Replace(source, m => m.Groups[1].Value + body + m.Groups[3].Value);
            _output.WriteLine(string.Join("\n", toySource.Split('\n').SkipWhile(l => !l.Contains("PreLnBlock(global")).Take(6)));
            var entry = ModelCompiler.Compile(toySource, "ToyLns", Path.Combine(_dir, "models"));
            using var model = entry.Create(3);
            Reference.Randomize(model, 5);
            var tokens = tensor(Enumerable.Range(0, 24).Select(i => (long)((i * 7 + 2) % 61)).ToArray()).reshape(2, 12);
            Tensor logits;
            using (no_grad()) logits = model.forward(tokens).to(ScalarType.Float64);

            // The independent fp64 reference, told the toy block by hand.
            var config = new RefConfig(Kind.Pre, ScaleRule.InvSqrtDepth, Layers: 3);
            var toyReference = new Reference(model, config)
            {
                Block = (p, x) =>
                {
                    var h = x + 0.5 * p.Attention(p.Norm(x, "input_layernorm", p.S));
                    return h + 0.5 * p.Mlp(p.Norm(h, "post_attention_layernorm", p.S));
                },
            };
            double toyError = Reference.RelativeError(logits, toyReference.Forward(tokens).Logits);
            double preLnGap = Reference.RelativeError(logits, new Reference(model, config).Forward(tokens).Logits); // teeth: the toy is not Pre-LN
            _output.WriteLine($"TorchSharp toy vs the fp64 toy: {toyError:E2}; vs the fp64 Pre-LN + LNS model: {preLnGap:E2}");
            Assert.True(toyError < NumericsTests.Tolerance, $"the rendered toy block differs from the reference by {toyError:E2}");
            Assert.True(preLnGap > 1e-2, $"the toy block is indistinguishable from Pre-LN ({preLnGap:E2})");

            // PyTorch: the export's model.py with the toy program rendered as its block class.
            if (!PythonProcess.Available("torch", _output, "the toy block's model.py check")) return;
            string export = Path.Combine(_dir, "export");
            PyTorchExport.Write(model, export);
            string modelPy = File.ReadAllText(Path.Combine(export, "model.py"));
            var pyClass = new Regex(@"class PreLnBlock\(nn\.Module\):.*?\n\n\n", RegexOptions.Singleline);
            Assert.Matches(pyClass, modelPy);
            File.WriteAllText(Path.Combine(export, "model.py"), pyClass.Replace(modelPy, _ => PyTorchModelEmitter.BlockClassSource(model.Spec, Toy)));
            string tokensFile = Path.Combine(_dir, "tokens.json"), logitsFile = Path.Combine(_dir, "logits.json");
            File.WriteAllText(tokensFile, JsonSerializer.Serialize(Enumerable.Range(0, 2).Select(b => tokens[b].data<long>().ToArray()).ToArray()));
            var (code, stdout, stderr) = PythonProcess.Run($"\"{Path.Combine(PythonDir(), "model_logits.py")}\" \"{export}\" \"{tokensFile}\" \"{logitsFile}\"", 120);
            Assert.True(code == 0, stdout + stderr);
            using var result = JsonDocument.Parse(File.ReadAllText(logitsFile));
            var theirs = tensor(result.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray()).reshape(logits.shape);
            double pyError = Reference.RelativeError(theirs, logits);
            _output.WriteLine($"model.py toy vs TorchSharp toy: {pyError:E2}");
            Assert.True(pyError < NumericsTests.Tolerance, $"model.py's toy block differs from TorchSharp's by {pyError:E2}");
        }

        private static string PythonDir([System.Runtime.CompilerServices.CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Interop", "python");
    }
}
