using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Cli
{
    /// <summary>A short, honest training run: data → batches → Adam with warmup + cosine → validation → checkpoint.</summary>
    public static class Trainer
    {
        public static int Run(TrainOptions o)
        {
            if (o.Steps < 1 || o.Batch < 1 || o.Seq < 2) throw new UserError("--steps and --batch must be at least 1 and --seq at least 2");
            if (o.Lr <= 0 || double.IsNaN(o.Lr)) throw new UserError("--lr must be positive");
            if (o.Warmup < 0 || o.Warmup >= o.Steps) throw new UserError($"--warmup must be in [0, --steps) (got {o.Warmup} with {o.Steps} steps)");
            Program.LoadAssembly(o.Assembly);
            var entry = ModelCatalog.Get(o.Model);
            var spec = entry.Spec;
            if (o.Seq > spec.MaxSeq) throw new UserError($"--seq {o.Seq} exceeds {spec.Name}'s MaxSeq {spec.MaxSeq}");
            var tokenizer = new ByteTokenizer();
            if (tokenizer.VocabSize > spec.Vocab)
                throw new UserError($"the byte tokenizer needs {tokenizer.VocabSize} ids but {spec.Name} has Vocab = {spec.Vocab}");
            if (o.Threads > 0) set_num_threads(o.Threads);
            var c = CultureInfo.InvariantCulture;

            // Data: documents packed with end-of-text; every 20th document is validation (deterministic).
            var docs = Corpus.Load(o.Data);
            var train = new List<long>();
            var valid = new List<long>();
            for (int i = 0; i < docs.Count; i++)
            {
                var target = docs.Count >= 20 && i % 20 == 19 ? valid : train;
                target.AddRange(tokenizer.Encode(docs[i]));
                target.Add(ByteTokenizer.EndOfText);
            }
            if (valid.Count < o.Seq + 1) // small corpora: hold out the last 10% of the tokens instead
            {
                int cut = (int)(train.Count * 0.9);
                valid = train.Skip(cut).ToList();
                train = train.Take(cut).ToList();
            }
            if (train.Count < o.Seq + 1 || valid.Count < o.Seq + 1)
                throw new UserError($"the data has {train.Count + valid.Count} tokens, too few for --seq {o.Seq}; give more text or a shorter --seq");

            string runDir = o.Out ?? Path.Combine("runs", $"{spec.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
            Directory.CreateDirectory(runDir);
            Console.WriteLine(spec.Describe().TrimEnd());
            Console.WriteLine(string.Format(c, "data: {0} documents, {1:N0} train / {2:N0} validation tokens (byte-level); run directory {3}",
                docs.Count, train.Count, valid.Count, runDir));

            manual_seed(o.Seed);
            using var model = entry.Create(o.Seed);
            var optimizer = optim.Adam(model.parameters(), lr: o.Lr, weight_decay: 0);
            var trainData = tensor(train.ToArray());
            var validData = tensor(valid.ToArray());
            using var batchGenerator = new Generator((ulong)o.Seed + 1);
            var metrics = new StreamWriter(Path.Combine(runDir, "metrics.jsonl"));
            var clock = Stopwatch.StartNew();
            double firstLoss = double.NaN, lastLoss = double.NaN;
            long tokensPerStep = (long)o.Batch * o.Seq;

            for (int step = 1; step <= o.Steps; step++)
            {
                using var scope = NewDisposeScope();
                double lr = Schedule(step, o.Steps, o.Warmup, o.Lr);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                var (x, y) = Batch(trainData, o.Batch, o.Seq, batchGenerator);
                optimizer.zero_grad();
                var logits = model.forward(x);
                var loss = nn.functional.cross_entropy(logits.reshape(-1, spec.Vocab), y.reshape(-1));
                loss.backward();
                optimizer.step();
                double value = loss.item<float>();
                if (!double.IsFinite(value))
                    throw new UserError($"the loss became {value} at step {step}; lower --lr (now {o.Lr}) or use a more stable placement");
                if (step == 1) firstLoss = value;
                lastLoss = value;
                double elapsed = clock.Elapsed.TotalSeconds;
                double tokensPerSecond = step * tokensPerStep / elapsed;
                metrics.WriteLine(JsonSerializer.Serialize(new { step, loss = value, lr, tokens_per_second = tokensPerSecond, elapsed_s = elapsed }));
                if (step == 1 || step % 10 == 0 || step == o.Steps)
                {
                    double eta = (o.Steps - step) * elapsed / step;
                    Console.WriteLine(string.Format(c, "step {0,5}/{1}  loss {2,7:F4}  lr {3:0.00e+0}  {4,8:N0} tok/s  elapsed {5,6:F1}s  eta {6,6:F1}s",
                        step, o.Steps, value, lr, tokensPerSecond, elapsed, eta));
                }
            }
            metrics.Dispose();

            double validLoss = Evaluate(model, validData, o.Seq, spec.Vocab);
            double seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(string.Format(c, "validation: loss {0:F4}, perplexity {1:F2} (per byte; uniform over {2} ids would be {3:F1})",
                validLoss, Math.Exp(validLoss), tokenizer.VocabSize, (double)tokenizer.VocabSize));
            Console.WriteLine(string.Format(c, "train loss {0:F4} -> {1:F4} in {2} steps, {3:F1}s, {4:N0} tokens/s",
                firstLoss, lastLoss, o.Steps, seconds, o.Steps * tokensPerStep / seconds));

            // Checkpoint: written to a temporary file, then renamed, so a crash never leaves half a checkpoint.
            string checkpoint = Path.Combine(runDir, "model.ckpt");
            string temp = checkpoint + ".tmp";
            model.save(temp);
            File.Move(temp, checkpoint, overwrite: true);
            File.WriteAllText(Path.Combine(runDir, "summary.json"), JsonSerializer.Serialize(new
            {
                model = spec.Name, steps = o.Steps, batch = o.Batch, seq = o.Seq, lr = o.Lr, warmup = o.Warmup, seed = o.Seed,
                tokenizer = "bytes", first_loss = firstLoss, last_loss = lastLoss, validation_loss = validLoss,
                validation_perplexity = Math.Exp(validLoss), seconds, tokens_per_second = o.Steps * tokensPerStep / seconds,
            }, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"checkpoint: {checkpoint}");
            return 0;
        }

        /// <summary>Linear warmup to <paramref name="peak"/>, then cosine decay to 0.1 x peak (the paper's schedule).</summary>
        public static double Schedule(int step, int steps, int warmup, double peak)
        {
            if (step <= warmup) return peak * step / Math.Max(1, warmup);
            double progress = (double)(step - warmup) / Math.Max(1, steps - warmup);
            return peak * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
        }

        private static (Tensor X, Tensor Y) Batch(Tensor data, int batch, int seq, Generator generator)
        {
            var starts = randint(0, data.shape[0] - seq - 1, new long[] { batch, 1 }, generator: generator);
            var index = starts + arange(seq + 1).unsqueeze(0);
            var windows = data[index];
            return (windows[.., ..seq], windows[.., 1..]);
        }

        /// <summary>Mean next-token loss over consecutive, non-overlapping windows of the validation tokens (at most 64).</summary>
        private static double Evaluate(TransformerModule model, Tensor data, int seq, int vocab)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            long windows = Math.Min(64, (data.shape[0] - 1) / seq);
            double total = 0;
            for (long w = 0; w < windows; w += 8)
            {
                long n = Math.Min(8, windows - w);
                var index = (arange(n) * seq + w * seq).unsqueeze(1) + arange(seq + 1).unsqueeze(0);
                var chunk = data[index];
                var logits = model.forward(chunk[.., ..seq]);
                total += nn.functional.cross_entropy(logits.reshape(-1, vocab), chunk[.., 1..].reshape(-1), reduction: nn.Reduction.Sum).item<float>();
            }
            return total / (windows * seq);
        }
    }
}
