using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Evaluation
{
    /// <summary>Sampling settings: temperature 0 is greedy; top-k 0 and top-p 1 disable those filters.</summary>
    public sealed record SampleOptions(int MaxTokens = 100, double Temperature = 0.8, int TopK = 40, double TopP = 0.95, long Seed = 0)
    {
        public string Device { get; init; } = "auto";
        /// <summary>fp32, or bf16 / bf16-pure (the same here: the weights cast to bf16); empty: fp32 on CPU, bf16 on CUDA.</summary>
        public string Dtype { get; init; } = "";
    }

    /// <summary>Autoregressive sampling with temperature, top-k and nucleus (top-p) filtering.</summary>
    public static class Sampler
    {
        public static IReadOnlyList<int> Generate(TransformerModule model, IReadOnlyList<int> prompt, int endOfText, SampleOptions o, Device device)
        {
            if (o.Temperature < 0) throw new SettingError("{Temperature} must be >= 0 (0: greedy)");
            if (o.TopK < 0) throw new SettingError("{TopK} must be >= 0 (0: off)");
            if (o.TopP is <= 0 or > 1) throw new SettingError("{TopP} must be in (0, 1]");
            var tokens = prompt.Count > 0 ? prompt.Select(t => (long)t).ToList() : new List<long> { endOfText };
            var generated = new List<int>();
            using var generator = new Generator((ulong)o.Seed);
            using var noGrad = no_grad();
            int context = model.Spec.MaxSeq;
            for (int i = 0; i < o.MaxTokens; i++)
            {
                using var scope = NewDisposeScope();
                var window = tokens.Skip(Math.Max(0, tokens.Count - context)).ToArray();
                var logits = model.forward(tensor(window).reshape(1, -1).to(device))[0, -1].to(ScalarType.Float32).cpu();
                long next;
                if (o.Temperature == 0)
                {
                    next = logits.argmax().item<long>();
                }
                else
                {
                    logits = logits / o.Temperature;
                    if (o.TopK > 0 && o.TopK < logits.shape[0])
                    {
                        var kth = logits.topk(o.TopK).values[-1];
                        logits = logits.masked_fill(logits < kth, double.NegativeInfinity);
                    }
                    if (o.TopP < 1)
                    {
                        var (sorted, order) = logits.sort(descending: true);
                        var cumulative = sorted.softmax(-1).cumsum(-1);
                        // Drop tokens once the mass before them already reaches top-p (the first token always stays).
                        var drop = (cumulative - sorted.softmax(-1)) >= o.TopP;
                        var mask = zeros(logits.shape, dtype: ScalarType.Bool).scatter(0, order, drop);
                        logits = logits.masked_fill(mask, double.NegativeInfinity);
                    }
                    next = logits.softmax(-1).multinomial(1, generator: generator).item<long>();
                }
                if (next == endOfText) break;
                tokens.Add(next);
                generated.Add((int)next);
            }
            return generated;
        }
    }
}
