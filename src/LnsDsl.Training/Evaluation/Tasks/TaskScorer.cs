using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Evaluation
{
    /// <summary>One item scored: the log-likelihood of each choice, and the choices picked by acc and acc_norm.</summary>
    public sealed record ItemScore(int Gold, IReadOnlyList<double> LogLikelihoods, int Predicted, int PredictedNorm);

    /// <summary>A task's accuracy (<see cref="TaskScorer"/> defines the figures).</summary>
    public sealed record TaskResult(string Task, string Format, int Shots, int N, double Acc, double AccNorm, double AccStderr, double AccNormStderr, IReadOnlyList<ItemScore> Items);

    /// <summary>
    /// Multiple-choice scoring as lm-evaluation-harness does it (<c>lnsrun eval --tasks</c>).
    /// <para>Tokens: like lm-eval, trailing spaces of the context move to the front of the continuation, then the
    /// continuation's tokens are the tokens of <c>Encode(context + continuation)</c> after the first
    /// <c>Encode(context).Length</c> of them (so a tokenizer that merges across the boundary scores the merged
    /// tokens); an empty context is the end-of-text token. The log-likelihood of a choice is the sum, over its
    /// continuation tokens, of log_softmax of the model's logits at the position before each token (fp32).
    /// A sequence longer than the model's window (<c>Spec.MaxSeq</c> + 1 tokens with the last target) is
    /// left-truncated: the last tokens are kept, and only continuation tokens inside the window are scored.</para>
    /// <para>Figures: acc = mean of [argmax_i loglik_i == gold]; acc_norm = mean of [argmax_i loglik_i / len_i == gold]
    /// with len_i the character count (Unicode code points, as Python's <c>len</c>) of choice i as the task gives it,
    /// WITHOUT the delimiter that the scored continuation starts with (<see cref="TaskItem.NormLength"/>; lm-eval's
    /// <c>completion_len</c>; an empty choice counts 1); ties go to the first choice; stderr = sqrt(acc (1 - acc) / (n - 1)) (NaN for n = 1).</para>
    /// <para>Few-shot (<c>Shots</c> = K): item i is preceded by K other items of the same file, chosen by
    /// <c>new Random(i)</c> as a partial Fisher–Yates shuffle of the other indices in order (for s = 0..K-1: swap
    /// position s with position <c>Next(s, n - 1)</c>; the first K are the shots, in that order); each shot is its
    /// context followed by its gold continuation, and the shots and then the item's context are joined by "\n\n".</para>
    /// <para>Batching: requests are grouped by input length rounded up to a power of two (at least 8, at most the
    /// window), and each bucket runs in batches of <c>Batch</c> rows, padded on the right (a causal model's
    /// positions never see the padding after them).</para>
    /// </summary>
    public static class TaskScorer
    {
        /// <summary>Reads and scores every file of <see cref="EvalOptions.Tasks"/>.</summary>
        public static IReadOnlyList<TaskResult> Evaluate(TrainedModel trained, EvalOptions options, Action<string>? log = null)
        {
            if (options.Tasks.Count == 0) throw new SettingError("{Tasks} names no task file");
            var sets = options.Tasks.Select(t => TaskReader.Read(t, options.TaskFormat)).ToList(); // every file checked before any scoring
            return sets.Select(s => Score(trained, s, options.Shots, options.Batch, log)).ToList();
        }

        /// <summary>The context of item <paramref name="index"/> with <paramref name="shots"/> examples before it (the rule in the class summary).</summary>
        public static string Context(IReadOnlyList<TaskItem> items, int index, int shots)
        {
            if (shots < 0) throw new SettingError("{Shots} must be at least 0");
            if (shots == 0) return items[index].Context;
            if (shots > items.Count - 1) throw new SettingError($"{{Shots}} is {shots} but the file has only {items.Count - 1} other items to draw examples from");
            var others = Enumerable.Range(0, items.Count).Where(j => j != index).ToArray();
            var random = new Random(index);
            var text = new StringBuilder();
            for (int s = 0; s < shots; s++)
            {
                int pick = random.Next(s, others.Length);
                (others[s], others[pick]) = (others[pick], others[s]);
                var shot = items[others[s]];
                text.Append(shot.Context).Append(shot.Continuation(shot.Gold)).Append("\n\n");
            }
            return text.Append(items[index].Context).ToString();
        }

        /// <summary>Scores every item of <paramref name="set"/>.</summary>
        public static TaskResult Score(TrainedModel trained, TaskSet set, int shots = 0, int batch = 8, Action<string>? log = null)
        {
            var requests = new List<(string Context, string Continuation)>();
            for (int i = 0; i < set.Items.Count; i++)
            {
                string context = Context(set.Items, i, shots);
                for (int c = 0; c < set.Items[i].Choices.Count; c++) requests.Add((context, set.Items[i].Continuation(c)));
            }
            var logliks = LogLikelihoods(trained, requests, batch, log is null ? null : m => log($"{set.Name}: {m}"));
            var scores = new List<ItemScore>();
            int at = 0;
            foreach (var item in set.Items)
            {
                var ll = logliks.Skip(at).Take(item.Choices.Count).ToArray();
                at += item.Choices.Count;
                var (predicted, predictedNorm) = Predict(item, ll);
                scores.Add(new ItemScore(item.Gold, ll, predicted, predictedNorm));
            }
            int n = scores.Count;
            double acc = scores.Count(s => s.Predicted == s.Gold) / (double)n;
            double accNorm = scores.Count(s => s.PredictedNorm == s.Gold) / (double)n;
            return new TaskResult(set.Name, set.Format, shots, n, acc, accNorm, Stderr(acc, n), Stderr(accNorm, n), scores);
        }

        /// <summary>The choices acc and acc_norm pick from the choices' log-likelihoods (the rules in the class summary).</summary>
        public static (int Acc, int AccNorm) Predict(TaskItem item, IReadOnlyList<double> logLikelihoods)
        {
            if (logLikelihoods.Count != item.Choices.Count) throw new ArgumentException($"{logLikelihoods.Count} log-likelihoods for {item.Choices.Count} choices");
            var norm = logLikelihoods.Select((l, c) => l / Math.Max(1, item.NormLength(c))).ToArray();
            return (ArgMax(logLikelihoods), ArgMax(norm));
        }

        /// <summary>sqrt(p (1 - p) / (n - 1)); NaN for n &lt; 2.</summary>
        public static double Stderr(double p, int n) => n < 2 ? double.NaN : Math.Sqrt(p * (1 - p) / (n - 1));

        private static int ArgMax(IReadOnlyList<double> values)
        {
            int best = 0;
            for (int i = 1; i < values.Count; i++) if (values[i] > values[best]) best = i;
            return best;
        }

        /// <summary>The context and continuation tokens of a request (the rule in the class summary).</summary>
        public static (int[] Context, int[] Continuation) Tokens(LnsDsl.Data.ITextTokenizer tokenizer, string context, string continuation)
        {
            int spaces = context.Length - context.TrimEnd().Length;
            if (spaces > 0)
            {
                continuation = context[^spaces..] + continuation;
                context = context[..^spaces];
            }
            if (context.Length == 0) return (new[] { tokenizer.EndOfText }, tokenizer.Encode(continuation));
            var whole = tokenizer.Encode(context + continuation);
            var head = tokenizer.Encode(context);
            int cut = Math.Min(head.Length, whole.Length);
            return (head, whole[cut..]);
        }

        /// <summary>The summed log-probability of each continuation given its context, batched by length buckets.</summary>
        public static double[] LogLikelihoods(TrainedModel trained, IReadOnlyList<(string Context, string Continuation)> requests, int batch = 8, Action<string>? log = null)
        {
            if (batch < 1) throw new SettingError("{Batch} must be at least 1");
            var model = trained.Model;
            int window = model.Spec.MaxSeq;
            var device = model.parameters().First().device;
            int pad = trained.Tokenizer.EndOfText;
            var inputs = new (long[] Input, long[] Targets, int Scored)[requests.Count];
            for (int r = 0; r < requests.Count; r++)
            {
                var (ctx, cont) = Tokens(trained.Tokenizer, requests[r].Context, requests[r].Continuation);
                var all = ctx.Concat(cont).Select(t => (long)t).ToArray();
                var kept = all[Math.Max(0, all.Length - window - 1)..];
                inputs[r] = (kept[..^1], kept[1..], Math.Min(cont.Length, kept.Length - 1));
            }
            int Bucket(int length)
            {
                int b = 8;
                while (b < length) b *= 2;
                return Math.Min(b, window);
            }
            var result = new double[requests.Count];
            var buckets = Enumerable.Range(0, requests.Count).GroupBy(r => Bucket(inputs[r].Input.Length)).OrderBy(g => g.Key).ToList();
            log?.Invoke($"{requests.Count} requests in {buckets.Count} length buckets ({string.Join(", ", buckets.Select(b => $"{b.Count()} of <= {b.Key} tokens"))})");
            using var noGrad = no_grad();
            foreach (var bucket in buckets)
            {
                var members = bucket.ToArray();
                int length = bucket.Key;
                for (int start = 0; start < members.Length; start += batch)
                {
                    using var scope = NewDisposeScope();
                    var rows = members.Skip(start).Take(batch).ToArray();
                    var x = new long[rows.Length * length];
                    var y = new long[rows.Length * length];
                    var mask = new float[rows.Length * length];
                    Array.Fill(x, pad);
                    for (int b = 0; b < rows.Length; b++)
                    {
                        var (input, targets, scored) = inputs[rows[b]];
                        Array.Copy(input, 0, x, b * length, input.Length);
                        Array.Copy(targets, 0, y, b * length, targets.Length);
                        for (int t = input.Length - scored; t < input.Length; t++) mask[b * length + t] = 1;
                    }
                    var logits = model.forward(tensor(x, new long[] { rows.Length, length }).to(device));
                    var logp = logits.to(ScalarType.Float32).log_softmax(-1)
                        .gather(-1, tensor(y, new long[] { rows.Length, length, 1 }).to(device)).squeeze(-1);
                    var sums = (logp.to(ScalarType.Float64) * tensor(mask, new long[] { rows.Length, length }).to(device).to(ScalarType.Float64)).sum(1).cpu();
                    var values = sums.data<double>().ToArray();
                    for (int b = 0; b < rows.Length; b++) result[rows[b]] = values[b];
                }
            }
            return result;
        }

        /// <summary>The results as JSON: per task acc, acc_norm, their stderr, n, format and shots (non-finite figures as null).</summary>
        public static string ToJson(IReadOnlyList<TaskResult> results, string model)
        {
            static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
            var tasks = new JsonObject();
            foreach (var r in results)
                tasks[r.Task] = new JsonObject
                {
                    ["format"] = r.Format,
                    ["shots"] = r.Shots,
                    ["n"] = r.N,
                    ["acc"] = Number(r.Acc),
                    ["acc_norm"] = Number(r.AccNorm),
                    ["stderr"] = Number(r.AccStderr),
                    ["acc_norm_stderr"] = Number(r.AccNormStderr),
                };
            var root = new JsonObject { ["model"] = model, ["tasks"] = tasks };
            return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        }
    }
}
