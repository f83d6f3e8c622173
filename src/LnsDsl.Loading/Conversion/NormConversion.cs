using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using LnsDsl.Data;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;
using LnsDsl.Compilation;

namespace LnsDsl.Loading.Conversion
{
    /// <summary>What <c>lnsrun convert --to</c> produces.</summary>
    public enum NormTarget
    {
        /// <summary>Pre-RMSNorm: <see cref="NormType.RmsNormBias"/> on a zero-mean stream.</summary>
        RmsNorm,
        /// <summary>Pre-CRMSNorm: <see cref="NormType.CRmsNorm"/>, the zero-mean stream in Hidden - 1 coordinates.</summary>
        CRmsNorm,
        /// <summary>Back to Pre-LN with LayerNorm (for tools that expect that layout).</summary>
        LayerNorm,
    }

    /// <summary>What a conversion wrote and how closely the converted model reproduces the original.</summary>
    public sealed record ConversionResult(string Out, string From, string To, int Step, double MaxLogitDifference, double LogitScale);

    /// <summary>
    /// Exact conversions between Pre-LN with LayerNorm, Pre-RMSNorm and Pre-CRMSNorm (Jiang et al., NeurIPS 2023;
    /// docs/NORMS.md). In a Pre-LN model the residual stream is read only through norms, and LayerNorm ignores the
    /// stream's mean; removing the mean from everything written into the stream (the embedding rows, the columns of
    /// <c>o_proj</c> and <c>down_proj</c> and their biases) changes no output, and on the zero-mean stream LayerNorm
    /// is RMSNorm with the same gain, bias and eps. CRMSNorm drops the stream's last coordinate (minus the sum of the
    /// others). LNS needs nothing: its factor multiplies gain and bias alike in all three.
    /// </summary>
    public static class NormConversion
    {
        /// <summary>Relative size of a stream-writing row's mean below which the stream counts as zero-mean.</summary>
        public const double ZeroMeanTolerance = 1e-4;

        public static NormTarget Parse(string? to) => to?.ToLowerInvariant() switch
        {
            "rmsnorm" => NormTarget.RmsNorm,
            "crmsnorm" => NormTarget.CRmsNorm,
            "layernorm" => NormTarget.LayerNorm,
            _ => throw new SettingError($"{{To}} must be rmsnorm, crmsnorm or layernorm{(to is null ? "" : $", not '{to}'")}"),
        };

        public static NormType TypeOf(NormTarget target) => target switch
        {
            NormTarget.RmsNorm => NormType.RmsNormBias,
            NormTarget.CRmsNorm => NormType.CRmsNorm,
            _ => NormType.LayerNorm,
        };

        /// <summary>Why <paramref name="spec"/> cannot be converted exactly to <paramref name="target"/>; null when it can.</summary>
        public static string? WhyNot(ModelSpec spec, NormTarget target, bool untie)
        {
            string name = spec.Name;
            if (spec.Norm != Kind.Pre)
                return $"{name} is {spec.PlacementLabel}, and only Pre-LN converts exactly: " + spec.Norm switch
                {
                    Kind.Post => "Post-LN normalises the residual stream itself (x = N(x + F(x))), so its mean is not ignored",
                    Kind.Mix => "its Post-LN blocks normalise the residual stream itself, so its mean is not ignored",
                    Kind.Peri => "Peri-LN normalises each branch's output before adding it, so the stream's mean is not ignored",
                    Kind.DeepNorm => "DeepNorm normalises the residual stream itself (x = N(alpha x + F(x))), so its mean is not ignored",
                    _ => "its output norms write normalised (not zero-mean) vectors into the stream",
                };
            if (spec.EmbeddingNorm) return $"{name} normalises its embedding, which writes a vector with a mean into the stream: not exactly convertible";
            if (spec.LayerScale) return $"{name} has LayerScale, whose per-channel gains put a mean into what the branches write: not exactly convertible";
            var to = TypeOf(target);
            if (spec.NormType == to) return $"{name} already uses {Norms.Label(to)}: nothing to convert";
            if (spec.NormType is NormType.RmsNorm or NormType.RmsNormPlusOne)
                return $"{name} uses {Norms.Label(spec.NormType)} on a stream that is not kept zero-mean; only Pre-LN with LayerNorm and its converted forms (RMSNorm + bias, CRMSNorm) convert exactly";
            if (spec.TieEmbeddings && !untie)
                return spec.NormType == NormType.LayerNorm
                    ? $"{name} ties its head to the embedding, and removing the embedding's mean would change the logits; give --untie to keep the head as it was (an untied copy)"
                    : $"{name} ties its head to the embedding, which CRMSNorm stores Hidden - 1 wide; give --untie to keep the head as it was (an untied copy)";
            return null;
        }

        /// <summary>The converted architecture (its name, count and blocks come from compiling it).</summary>
        public static ModelSpec Spec(ModelSpec spec, NormTarget target, bool untie)
            => spec with { NormType = TypeOf(target), TieEmbeddings = spec.TieEmbeddings && !untie };

        /// <summary>The converted class's name: the original's (without an earlier conversion's suffix) with the target as a suffix.</summary>
        public static string ClassName(string name, NormTarget target)
        {
            foreach (var suffix in new[] { "_RmsNorm", "_CRmsNorm", "_LayerNorm" })
                if (name.EndsWith(suffix, StringComparison.Ordinal)) name = name[..^suffix.Length];
            return target == NormTarget.LayerNorm ? name + "_LayerNorm" : name + "_" + target;
        }

        /// <summary>
        /// Converts <paramref name="from"/> (a run directory or checkpoint) into the run directory <paramref name="outDir"/>
        /// (which must not exist): the converted model's weights, Adam's moments carried over coordinate by coordinate,
        /// the run's options, data identity, RNG state and tokenizer, so that eval, analyze, generate and
        /// <c>train --resume</c> work on it. The converted logits are checked against the original's on a batch of
        /// the checkpoint's vocabulary before anything is written.
        /// </summary>
        public static ConversionResult Convert(string from, string outDir, NormTarget target, bool untie, Action<string>? log = null)
        {
            string checkpoint = Checkpoint.Resolve(from);
            var state = Checkpoint.PeekState(checkpoint); // verified below, once, when the weights load
            var spec = state.Spec ?? throw new UserError($"checkpoint '{checkpoint}' was written before checkpoints stored their architecture; resume it for one step with this lnsrun to store it, then convert");
            if (WhyNot(spec, target, untie) is { } why) throw new UserError($"cannot convert {spec.Name} to {Norms.Label(TypeOf(target))}: {why}");
            StagedDirectory.CheckNewOrEmpty(outDir, "convert"); // a conversion never overwrites

            var sourceEntry = ModelSources.Resolve(checkpoint);
            using var source = sourceEntry.Create(0);
            state = Checkpoint.LoadModel(checkpoint, source);
            string className = ClassName(spec.Name, target);
            var targetEntry = ModelCompiler.Compile(SpecDeclaration.Source(Spec(spec, target, untie), className, $"lnsrun convert --to {target.ToString().ToLowerInvariant()}"), className);
            using var converted = TransformerModule.CreateForLoading(() => targetEntry.Create(0), ScalarType.Float32);
            log?.Invoke($"{spec.Name} ({Norms.Label(spec.NormType)}, step {state.Step}) -> {className} ({Norms.Label(converted.Spec.NormType)}{(spec.TieEmbeddings && !converted.Spec.TieEmbeddings ? ", untied" : "")})");

            var sourceForm = FormOf(spec.NormType);
            var targetForm = FormOf(converted.Spec.NormType);
            var weights = source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
            if (sourceForm == StreamForm.ZeroMean) RequireZeroMean(spec, weights);
            using (no_grad())
            {
                foreach (var (name, parameter) in converted.named_parameters())
                {
                    var value = name == "lm_head.weight" && spec.TieEmbeddings
                        ? Decompressed(weights["embed_tokens.weight"], 1, sourceForm) // the head keeps the embedding as the original used it
                        : weights.TryGetValue(name, out var w) ? Map(w, StreamDim(name), sourceForm, targetForm, Quantity.Weight)
                        : throw new InvalidOperationException($"the converted model has a parameter '{name}' the original lacks (a bug)");
                    if (!value.shape.SequenceEqual(parameter.shape))
                        throw new InvalidOperationException($"'{name}': converted shape [{string.Join(", ", value.shape)}], model [{string.Join(", ", parameter.shape)}] (a bug)");
                    parameter.copy_(value);
                }
            }

            var (difference, scale) = Compare(source, converted);
            log?.Invoke($"check: logits of the converted model vs the original on 2 x 32 tokens: largest difference {difference:E2} (logits' scale {scale:E2})");
            if (difference > 1e-4 * Math.Max(1, scale))
                throw new InvalidOperationException($"the converted model's logits differ from the original's by {difference:E2} (scale {scale:E2}): not an exact conversion (a bug; nothing was written)");

            // Adam's moments, carried over as gradients transform (Map); the second moment approximately.
            var options = state.Options with { Model = className, Out = outDir, Optimizer = state.Options.Optimizer == "torch-adam" ? "adam" : state.Options.Optimizer };
            using var sourceAdam = FlatAdam.For(source, options);
            sourceAdam.Load(Path.Combine(checkpoint, "optimizer.bin"));
            using var targetAdam = FlatAdam.For(converted, options);
            using (no_grad())
            {
                foreach (var (name, _) in converted.named_parameters())
                {
                    var (m, v) = targetAdam.Moments(name);
                    bool headFromEmbedding = name == "lm_head.weight" && spec.TieEmbeddings;
                    var (sm, sv) = sourceAdam.Moments(headFromEmbedding ? "embed_tokens.weight" : name);
                    int dim = headFromEmbedding ? -1 : StreamDim(name);
                    m.copy_(Map(sm, dim, sourceForm, targetForm, Quantity.FirstMoment));
                    v.copy_(Map(sv, dim, sourceForm, targetForm, Quantity.SecondMoment));
                }
            }
            targetAdam.SetStepCount(sourceAdam.StepCount);

            StagedDirectory.Write(outDir, staging =>
            {
                var run = new RunDirectory(staging);
                var sourceRun = RunDirectory.OfCheckpoint(checkpoint);
                var config = File.Exists(sourceRun.ConfigFile) ? sourceRun.ReadConfig() : new RunConfig();
                run.WriteConfig(config with
                {
                    Options = options, Model = className, Architecture = Checkpoint.Describe(converted.Spec), Spec = converted.Spec,
                    Parameters = converted.Spec.ParameterCount,
                });
                var tokenizer = Tokenizers.Load(Path.Combine(checkpoint, "tokenizer.json"));
                File.Copy(Path.Combine(checkpoint, "tokenizer.json"), run.TokenizerFile);
                var newState = Checkpoint.For(converted.Spec) with { Data = state.Data, Options = options, TorchRngState = state.TorchRngState };
                Checkpoint.Save(staging, state.Step, converted, targetAdam, tokenizer, newState, keep: 1);
            }, action: "convert");
            return new ConversionResult(outDir, spec.Name, className, state.Step, difference, scale);
        }

        /// <summary>How a model's stream-writing weights are stored.</summary>
        private enum StreamForm
        {
            /// <summary>LayerNorm: any mean (it is ignored).</summary>
            Free,
            /// <summary>RMSNorm + bias: zero-mean, all Hidden coordinates.</summary>
            ZeroMean,
            /// <summary>CRMSNorm: zero-mean, the first Hidden - 1 coordinates.</summary>
            Compressed,
        }

        private static StreamForm FormOf(NormType type) => type switch
        {
            NormType.LayerNorm => StreamForm.Free,
            NormType.CRmsNorm => StreamForm.Compressed,
            _ => StreamForm.ZeroMean,
        };

        /// <summary>The dimension along which a parameter writes the residual stream, or -1 when it does not.</summary>
        public static int StreamDim(string name) => name switch
        {
            "embed_tokens.weight" => 1,
            _ when name.EndsWith(".self_attn.o_proj.weight", StringComparison.Ordinal) || name.EndsWith(".mlp.down_proj.weight", StringComparison.Ordinal) => 0,
            _ when name.EndsWith(".self_attn.o_proj.bias", StringComparison.Ordinal) || name.EndsWith(".mlp.down_proj.bias", StringComparison.Ordinal) => 0,
            _ => -1,
        };

        /// <summary>What <see cref="Map"/> carries over: weights and gradients transform differently under compression.</summary>
        private enum Quantity { Weight, FirstMoment, SecondMoment }

        /// <summary>
        /// A stream-writing tensor from one form into another, along <paramref name="dim"/>. Weights: centred (their mean
        /// removed), compressed (the last coordinate dropped: it is minus the sum of the others) or decompressed (the last
        /// restored as minus the sum). Gradients transform by the chain rule instead: the stored coordinate i of a
        /// compressed weight moves coordinate i up and the last down, so its gradient is <c>g_i - g_d</c>; back, the
        /// zero-mean gradient is <c>u_d = -sum(g_c) / d</c>, <c>u_i = g_c,i + u_d</c>. Adam's first moment (an average of
        /// gradients) maps like a gradient; its second moment (an average of squares) only approximately: <c>v_i + v_d</c>
        /// compressed, and back <c>v_c,i / 2</c> with the restored coordinate their mean.
        /// </summary>
        private static Tensor Map(Tensor t, int dim, StreamForm from, StreamForm to, Quantity what)
        {
            if (dim < 0 || from == to) return t.detach().clone();
            using var scope = NewDisposeScope();
            long[] dims = { dim };
            Tensor full;
            if (from == StreamForm.Compressed)
                full = what switch
                {
                    Quantity.Weight => Decompressed(t, dim, from),
                    Quantity.FirstMoment => ZeroMeanGradient(t, dim),
                    _ => cat(new[] { t / 2, (t / 2).mean(dims, keepdim: true) }, dim),
                };
            else
                full = what == Quantity.SecondMoment || from == StreamForm.ZeroMean ? t.detach().clone() : t - t.mean(dims, keepdim: true);
            Tensor result = full;
            if (to == StreamForm.Compressed)
            {
                long kept = full.shape[dim] - 1;
                var head = full.narrow(dim, 0, kept);
                var last = full.narrow(dim, kept, 1);
                result = (what switch
                {
                    Quantity.Weight => head,
                    Quantity.FirstMoment => head - last,
                    _ => head + last,
                }).contiguous();
            }
            return result.MoveToOuterDisposeScope();
        }

        /// <summary>The zero-mean d-wide gradient whose compressed form is <paramref name="g"/> (<c>g_i = u_i - u_d</c>).</summary>
        private static Tensor ZeroMeanGradient(Tensor g, int dim)
        {
            long d = g.shape[dim] + 1;
            var last = g.sum(new long[] { dim }, keepdim: true).neg() / d;
            return cat(new[] { g + last, last }, dim);
        }

        /// <summary>The whole (uncompressed) tensor: <c>[t, -sum(t)]</c> along <paramref name="dim"/> for a compressed one.</summary>
        private static Tensor Decompressed(Tensor t, int dim, StreamForm form)
            => form == StreamForm.Compressed ? cat(new[] { t, t.sum(new long[] { dim }, keepdim: true).neg() }, dim) : t.detach().clone();

        /// <summary>Refuses an RMSNorm + bias checkpoint whose stream is no longer zero-mean (trained on as RMSNorm).</summary>
        private static void RequireZeroMean(ModelSpec spec, Dictionary<string, Tensor> weights)
        {
            foreach (var (name, w) in weights)
            {
                int dim = StreamDim(name);
                if (dim < 0) continue;
                double mean = w.mean(new long[] { dim }).abs().max().item<float>();
                double rms = w.square().mean().sqrt().item<float>();
                if (mean > ZeroMeanTolerance * Math.Max(rms, 1e-12))
                    throw new UserError($"{spec.Name}'s stream is not zero-mean ('{name}' has a mean of {mean:E2} against an RMS of {rms:E2}): it was trained on as RMSNorm after a conversion, and no LayerNorm or CRMSNorm model computes the same function");
            }
        }

        /// <summary>The largest absolute logit difference on a fixed batch, and the logits' RMS.</summary>
        private static (double Difference, double Scale) Compare(TransformerModule a, TransformerModule b)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var generator = new Generator(7);
            var tokens = randint(0, a.Spec.Vocab, new long[] { 2, Math.Min(32, a.Spec.MaxSeq) }, generator: generator);
            a.eval();
            b.eval();
            var la = a.forward(tokens);
            var lb = b.forward(tokens);
            return ((la - lb).abs().max().item<float>(), la.square().mean().sqrt().item<float>());
        }
    }
}
