using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using LnsDsl.Interop;
using LnsDsl.Training;
using TorchSharp;
using static TorchSharp.torch;
using LnsDsl.Compilation;
using LnsDsl.Loading.Conversion;

namespace LnsDsl.Experiments
{
    /// <summary>One version of the model in <see cref="NormBench"/>: its speeds and their ratios to the LayerNorm version's.</summary>
    public sealed record NormBenchRow(string Norm, string Model, long Parameters, Spread TrainTokensPerSecond, Spread ForwardTokensPerSecond,
        Spread TrainVsLayerNorm, Spread ForwardVsLayerNorm);

    public sealed record NormBenchResult(string Model, string Placement, string Device, string Dtype, int Threads, int Batch, int Seq,
        int Warmup, int Repetitions, int Steps, bool Untied, IReadOnlyList<NormBenchRow> Rows);

    /// <summary>
    /// The same Pre-LN model with LayerNorm, with RMSNorm (+ bias, its exact equivalent on a zero-mean stream) and
    /// with CRMSNorm (the stream in Hidden - 1 coordinates), side by side in one process: training tokens/s (forward,
    /// backward, lnsrun's Adam step) and inference tokens/s (forward without autograd), the three versions taking
    /// turns within every repetition, each ratio taken within its repetition. The versions are compiled from the
    /// model's declaration with only the norm type changed (a tied model is untied in all three: CRMSNorm cannot tie).
    /// </summary>
    public static class NormBench
    {
        private static readonly NormType[] Types = { NormType.LayerNorm, NormType.RmsNormBias, NormType.CRmsNorm };

        public static NormBenchResult Run(BenchOptions o, Action<string>? log = null)
        {
            log ??= _ => { };
            if (o.Batch < 1 || o.Seq < 2) throw new SettingError("{Batch} must be at least 1 and {Seq} at least 2");
            if (o.Repetitions < 1 || o.Steps < 1 || o.Warmup < 0) throw new SettingError("{Repetitions} and {Steps} must be at least 1, {Warmup} at least 0");
            var spec = ModelCatalog.Get(o.Model).Spec;
            if (o.Seq > spec.MaxSeq) throw new SettingError($"{{Seq}} {o.Seq} exceeds {spec.Name}'s MaxSeq {spec.MaxSeq}");
            var asLayerNorm = spec with { NormType = NormType.LayerNorm, TieEmbeddings = false };
            if (NormConversion.WhyNot(asLayerNorm, NormTarget.RmsNorm, untie: true) is { } why)
                throw new UserError($"the norm comparison needs a Pre-LN model whose stream is read only through norms: {why}");
            var device = Devices.Resolve(o.Device);
            var precision = Devices.ResolvePrecision(o.Dtype, device);
            if (o.Threads > 0) set_num_threads(o.Threads);

            // The three versions, declared from the model's spec and compiled together.
            string Name(NormType t) => $"{spec.Name}_{t}Bench";
            var entries = ModelCompiler.Compile(SpecDeclaration.Source(Types.Select(t => (asLayerNorm with { NormType = t }, Name(t))), $"{spec.Name} with three norms (lnsrun bench --norms)"),
                Types.Select(Name).ToList());

            var c = CultureInfo.InvariantCulture;
            log(string.Format(c, "norm bench {0} ({1}) on {2} {3}, {4} threads: batch {5} x {6} tokens, {7} warm-up steps, {8} repetitions of {9} steps; LayerNorm, RMSNorm + bias, CRMSNorm take turns",
                spec.Name, spec.PlacementLabel, device, precision.Name, get_num_threads(), o.Batch, o.Seq, o.Warmup, o.Repetitions, o.Steps));
            manual_seed(o.Seed);
            using var generator = new Generator((ulong)o.Seed + 1);
            using var tokens = randint(spec.Vocab, new long[] { o.Batch, o.Seq + 1 }, generator: generator).to(device);
            using var x = tokens.narrow(1, 0, o.Seq).contiguous();
            using var y = tokens.narrow(1, 1, o.Seq).contiguous();
            var models = new List<TransformerModule>();
            var optimizers = new List<FlatAdam>();
            var runners = new List<Bench.Runner>();
            try
            {
                foreach (var e in entries)
                {
                    var m = e.Create(o.Seed);
                    m.to(device);
                    precision.Apply(m);
                    models.Add(m);
                    optimizers.Add(FlatAdam.For(m, 1e-4, 0, decoupled: false, decayEmbeddings: false));
                    runners.Add(new Bench.Runner(m, optimizers[^1], x, y, spec.Vocab));
                }
                void Sync() { if (device.type == DeviceType.CUDA) cuda.synchronize(device); }
                double TokensPerSecond(Action step) => (double)o.Batch * o.Seq * o.Steps / Bench.Seconds(step, o.Steps, Sync);
                foreach (var runner in runners)
                    for (int s = 0; s < o.Warmup; s++) runner.TrainStep();

                var train = Types.Select(_ => new List<double>()).ToList();
                var forward = Types.Select(_ => new List<double>()).ToList();
                for (int r = 0; r < o.Repetitions; r++)
                {
                    // A different order each repetition, so that drift of a shared machine falls on all alike.
                    var order = Enumerable.Range(0, models.Count).Select(i => (i + r) % models.Count).ToList();
                    foreach (int i in order)
                    {
                        train[i].Add(TokensPerSecond(runners[i].TrainStep));
                        forward[i].Add(TokensPerSecond(runners[i].Forward));
                    }
                    log(string.Format(c, "repetition {0}/{1}: train {2}; forward {3} tokens/s", r + 1, o.Repetitions,
                        string.Join(", ", Types.Select((t, i) => $"{Norms.Label(t)} {train[i][^1]:N0}")),
                        string.Join(", ", Types.Select((t, i) => $"{Norms.Label(t)} {forward[i][^1]:N0}"))));
                }
                var rows = Types.Select((t, i) => new NormBenchRow(Norms.Label(t), entries[i].Name, entries[i].Spec.ParameterCount,
                    Spread.Of(train[i]), Spread.Of(forward[i]),
                    Spread.Of(train[i].Zip(train[0], (a, b) => a / b)), Spread.Of(forward[i].Zip(forward[0], (a, b) => a / b)))).ToList();
                return new NormBenchResult(spec.Name, spec.PlacementLabel, device.ToString(), precision.Name, get_num_threads(), o.Batch, o.Seq,
                    o.Warmup, o.Repetitions, o.Steps, spec.TieEmbeddings, rows);
            }
            finally
            {
                foreach (var opt in optimizers) opt.Dispose();
                foreach (var m in models) m.Dispose();
            }
        }

        public static string Format(NormBenchResult r)
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "{0} ({1}) with three norms{2}; device {3}, {4}, {5} threads; batch {6} x seq {7}; medians (min - max) over {8} repetitions",
                r.Model, r.Placement, r.Untied ? " (untied head in all three)" : "", r.Device, r.Dtype, r.Threads, r.Batch, r.Seq, r.Repetitions));
            sb.AppendLine(string.Format(c, "{0,-18} {1,12} {2,26} {3,22} {4,26} {5,22}", "norm", "parameters", "training tokens/s", "vs LayerNorm", "inference tokens/s", "vs LayerNorm"));
            foreach (var row in r.Rows)
                sb.AppendLine(string.Format(c, "{0,-18} {1,12:N0} {2,26} {3,22} {4,26} {5,22}", row.Norm, row.Parameters,
                    $"{row.TrainTokensPerSecond.Median:N0} ({row.TrainTokensPerSecond.Min:N0} - {row.TrainTokensPerSecond.Max:N0})",
                    $"{row.TrainVsLayerNorm.Median:F3} ({row.TrainVsLayerNorm.Min:F3} - {row.TrainVsLayerNorm.Max:F3})",
                    $"{row.ForwardTokensPerSecond.Median:N0} ({row.ForwardTokensPerSecond.Min:N0} - {row.ForwardTokensPerSecond.Max:N0})",
                    $"{row.ForwardVsLayerNorm.Median:F3} ({row.ForwardVsLayerNorm.Min:F3} - {row.ForwardVsLayerNorm.Max:F3})"));
            return sb.ToString();
        }

        public static string ToJson(NormBenchResult r) => JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true });
    }
}
