using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using LnsDsl.Tests;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.IntegrationTests
{
    /// <summary>
    /// The PyTorch hand-off as a user runs it, each command a fresh process: <c>lnsrun train M OPTS --stop-at 5</c>
    /// against <c>lnsrun export M OPTS --pytorch OUT</c> then <c>torchrun --nproc_per_node 2 train.py --stop-at 5</c>.
    /// The export writes the whole recipe (options.json) and prepares the token cache; train.py has no defaults of its
    /// own. The losses agree to 1e-5 relative for Adam, AdamW with weight decay 0.1, and AdamW decaying the embedding too.
    /// </summary>
    public sealed class PyTorchHandOffTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-handoff-" + Guid.NewGuid().ToString("N"));
        private readonly ITestOutputHelper _output;

        public PyTorchHandOffTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
        }

        public void Dispose()
        {
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        private (int Code, string Out, string Err) Lnsrun(params string[] args)
        {
            var r = IntegrationTests.Lnsrun.Run(_dir, Path.Combine(_dir, "cache"), args);
            _output.WriteLine($"$ lnsrun {string.Join(" ", args)}  -> exit {r.Code}\n{r.Out}{r.Err}");
            return r;
        }

        private static double[] Losses(string run)
            => File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToArray();

        [Fact]
        public void Lnsrun_and_torchrun_with_two_workers_print_the_same_losses_for_each_optimiser()
        {
            if (!PythonProcess.Available("torch, numpy, torch.distributed", _output, "the PyTorch hand-off")) return;
            string corpus = TestCorpus.RandomWords(Path.Combine(_dir, "corpus"), seed: 1, length: d => 60 + 40 * (d % 5));
            string[] common = { "TinyByteLns", "--data", corpus, "--tokenizer", "bytes", "--compact", "0", "--steps", "10", "--batch", "4", "--seq", "32",
                                "--warmup", "2", "--lr", "1e-2", "--clip", "0.5", "--eval-every", "0", "--seed", "5", "--threads", "1", "--device", "cpu", "--dtype", "fp32" };
            var configurations = new[]
            {
                ("adam", new[] { "--optimizer", "adam" }),
                ("adamw", new[] { "--optimizer", "adamw", "--weight-decay", "0.1" }),
                ("adamw-embeddings", new[] { "--optimizer", "adamw", "--weight-decay", "0.1", "--decay-embeddings" }),
            };
            var results = new System.Collections.Generic.Dictionary<string, (double[] Lnsrun, double[] Torch)>();
            foreach (var (name, optimiser) in configurations)
            {
                string run = Path.Combine(_dir, name + "-lnsrun"), export = Path.Combine(_dir, name + "-export"), torch = Path.Combine(_dir, name + "-torch");
                var train = Lnsrun(new[] { "train" }.Concat(common).Concat(optimiser).Concat(new[] { "--stop-at", "5", "--out", run, "--assembly", IntegrationTests.Lnsrun.TestModels }).ToArray());
                Assert.Equal(0, train.Code);
                var exported = Lnsrun(new[] { "export" }.Concat(common).Concat(optimiser).Concat(new[] { "--pytorch", export, "--assembly", IntegrationTests.Lnsrun.TestModels }).ToArray());
                Assert.Equal(0, exported.Code);
                using (var options = JsonDocument.Parse(File.ReadAllText(Path.Combine(export, "options.json"))))
                {
                    var root = options.RootElement;
                    Assert.True(File.Exists(Path.Combine(root.GetProperty("Cache").GetString()!, "train.lnstok")), "the export did not prepare and record the token cache");
                    Assert.Equal(name.StartsWith("adamw", StringComparison.Ordinal) ? "adamw" : "adam", root.GetProperty("Options").GetProperty("Optimizer").GetString());
                    var decayed = root.GetProperty("DecayedParameters").EnumerateArray().Select(e => e.GetString()).ToList();
                    Assert.Equal(name == "adamw-embeddings", decayed.Contains("embed_tokens.weight"));
                    Assert.DoesNotContain("norm.weight", decayed);
                }
                var (code, stdout, stderr) = PythonProcess.Run($"{PythonProcess.Torchrun} --nproc_per_node 2 --master_port {PythonProcess.FreePort()} " +
                                                               $"\"{Path.Combine(export, "train.py")}\" --out \"{torch}\" --stop-at 5 --timeout 60", 300);
                _output.WriteLine($"$ torchrun --nproc_per_node 2 train.py --stop-at 5 -> exit {code}\n{stdout}{stderr}");
                Assert.True(code == 0, stdout + stderr);
                Assert.Contains("DDP", stdout);
                double[] a = Losses(run), b = Losses(torch);
                Assert.Equal(5, a.Length);
                Assert.Equal(5, b.Length);
                double worst = a.Zip(b, (x, y) => Math.Abs(x - y) / Math.Abs(x)).Max();
                _output.WriteLine($"{name}: lnsrun {string.Join(" ", a.Select(v => v.ToString("F6")))}");
                _output.WriteLine($"{name}: train.py {string.Join(" ", b.Select(v => v.ToString("F6")))}  (largest relative difference {worst:E2}, tolerance 1e-5)");
                Assert.True(worst < 1e-5, $"{name}: largest relative difference {worst}");
                Assert.True(Directory.Exists(Path.Combine(torch, "checkpoints", "step-0000005")), "train.py --stop-at 5 wrote no checkpoint at step 5");
                results[name] = (a, b);
            }
            // Teeth: each train.py run is far closer to lnsrun's run of the same recipe than to another recipe's, so a
            // train.py that decayed the embedding regardless, or ignored the optimiser, would be caught.
            static double Worst(double[] x, double[] y) => x.Zip(y, (p, q) => Math.Abs(p - q) / Math.Abs(p)).Max();
            foreach (var (x, y) in new[] { ("adam", "adamw"), ("adamw", "adamw-embeddings"), ("adamw-embeddings", "adamw") })
            {
                double same = Worst(results[x].Lnsrun, results[x].Torch), other = Worst(results[y].Lnsrun, results[x].Torch);
                _output.WriteLine($"train.py {x}: {same:E2} from lnsrun {x}, {other:E2} from lnsrun {y}");
                Assert.True(other > 10 * same && other > 1e-5, $"train.py {x} is {other:E2} from lnsrun {y}, {same:E2} from lnsrun {x}: the recipes are not told apart");
            }
        }

    }
}
