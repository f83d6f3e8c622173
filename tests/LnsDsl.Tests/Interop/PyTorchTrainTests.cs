using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using LnsDsl.Data;
using LnsDsl.Interop;
using LnsDsl.Interop.PyTorch;
using LnsDsl.Evaluation;
using LnsDsl.Runs;
using LnsDsl.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// <c>train.py</c> (the PyTorch continuation of a run) against lnsrun: .NET's seeded Random and the batches it
    /// draws, 20 steps of losses from the same initialisation, torchrun with 2 workers (gloo) against one process,
    /// and a worker killed mid-run, on the generated model.py of <see cref="PyTorchExport"/>. Runs where <c>/usr/bin/python3</c> imports torch; elsewhere it says so in the test output and passes.
    /// </summary>
    [Collection("Console")] // they set LNSDSL_CACHE, a process-wide variable other tests of that collection set too
    public sealed class PyTorchTrainTests : IDisposable
    {
        private const string Python = PythonProcess.Executable;
        private const string ModelName = "TinyByteLns";
        private const string Torchrun = PythonProcess.Torchrun;
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-pyt-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");

        public PyTorchTrainTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(Path.GetTempPath(), "lnsdsl-test-cache"));
            RuntimeHelpers.RunClassConstructor(typeof(LnsDsl.Tests.Models.TinyByteLns).TypeHandle);
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }

        private static string PythonDir([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "python");

        [Fact]
        public void Script_is_embedded()
        {
            Assert.Contains("def for_step(seed, step)", TrainScript.Source);
            Assert.Contains("\"Step\": N", TrainScript.Source);
        }

        [Fact]
        public void Random_and_batches_are_lnsruns()
        {
            if (!HasTorch()) return;
            using var data = Data(Corpus());
            string dir = Export(Options(data, Packing.Pack), data);
            var seeds = new long[] { 0, 1, 7, 42, -1, -7, 123456789012, long.MaxValue, long.MinValue, int.MinValue, 2024 };
            var steps = new[] { 1, 2, 3, 10, 99, 1000, 123456 };
            var ranges = new long[] { 1, 2, 3, 10, 1000, 1L << 32, (1L << 40) + 17, long.MaxValue, data.Train.Count - 32 };
            var maxima = new[] { 0, 1, 2, 7, 24, 1000, int.MaxValue };
            var expected = new StringBuilder();
            foreach (long seed in seeds)
                foreach (int step in steps)
                {
                    var r = Batches.ForStep(seed, step);
                    var line = new List<long>();
                    for (int round = 0; round < 3; round++)
                    {
                        foreach (long n in ranges) line.Add(r.NextInt64(0, n));
                        foreach (int n in maxima) line.Add(r.Next(n));
                        line.Add(r.NextInt64(-5, 5));
                    }
                    expected.Append(seed).Append(' ').Append(step).Append(':').AppendJoin(' ', line).Append('\n');
                }
            // Plain seeded generators too (the int32 extremes).
            foreach (int seed in new[] { 0, 1, -1, int.MaxValue, int.MinValue, 161803398, -161803398 })
            {
                var r = new Random(seed);
                expected.Append("random ").Append(seed).Append(':').AppendJoin(' ', Enumerable.Range(0, 60).Select(_ => (long)r.Next()));
                expected.Append(' ').AppendJoin(' ', Enumerable.Range(0, 10).Select(_ => r.NextInt64(0, 1000003))).Append('\n');
            }
            var cases = new JsonObject
            {
                ["seeds"] = new JsonArray(seeds.Select(s => (JsonNode)s).ToArray()),
                ["steps"] = new JsonArray(steps.Select(s => (JsonNode)s).ToArray()),
                ["ranges"] = new JsonArray(ranges.Select(s => (JsonNode)s).ToArray()),
                ["maxima"] = new JsonArray(maxima.Select(s => (JsonNode)s).ToArray()),
                ["randoms"] = new JsonArray(new[] { 0, 1, -1, int.MaxValue, int.MinValue, 161803398, -161803398 }.Select(s => (JsonNode)s).ToArray()),
                ["cache"] = data.Directory, ["eot"] = data.Tokenizer.EndOfText,
            };
            // Batches from the token cache, both packings, micro-batches drawn from one generator as a step does.
            var batches = new JsonArray();
            var expectedBatches = new StringBuilder();
            foreach (var packing in new[] { Packing.Pack, Packing.Document })
                foreach (var (seed, step, batch, seq) in new (long, int, int, int)[] { (0, 1, 4, 32), (5, 17, 3, 500), (-3, 2, 8, 7), (99, 400, 2, 2000) })
                {
                    batches.Add(new JsonObject { ["packing"] = packing.ToString(), ["seed"] = seed, ["step"] = step, ["batch"] = batch, ["seq"] = seq });
                    var r = Batches.ForStep(seed, step);
                    for (int m = 0; m < 2; m++)
                    {
                        var (x, y) = Batches.Sample(data.Train, packing, batch, seq, data.Tokenizer.EndOfText, r);
                        expectedBatches.AppendJoin(' ', x.data<long>().ToArray()).Append('|').AppendJoin(' ', y.data<long>().ToArray()).Append('\n');
                    }
                }
            cases["batches"] = batches;
            string casesFile = Path.Combine(_dir, "cases.json"), outFile = Path.Combine(_dir, "draws.txt"), batchFile = Path.Combine(_dir, "batches.txt");
            File.WriteAllText(casesFile, cases.ToJsonString());
            var (code, stdout) = Run($"\"{Path.Combine(PythonDir(), "train_parity.py")}\" \"{dir}\" \"{casesFile}\" \"{outFile}\" \"{batchFile}\"", 120);
            Assert.True(code == 0, stdout);
            string[] want = expected.ToString().Split('\n'), got = File.ReadAllText(outFile).Split('\n');
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i]);
            string[] wantBatches = expectedBatches.ToString().Split('\n'), gotBatches = File.ReadAllText(batchFile).Split('\n');
            Assert.Equal(wantBatches.Length, gotBatches.Length);
            for (int i = 0; i < wantBatches.Length; i++) Assert.True(wantBatches[i] == gotBatches[i], $"batch {i} differs");
            _output.WriteLine($"{want.Length - 1} generator lines and {wantBatches.Length - 1} micro-batches identical");
        }

        [Theory]
        [InlineData(Packing.Pack, ModelName, "adam")]
        [InlineData(Packing.Document, ModelName, "adam")]
        // A depth rule: the blocks' parameters in their own groups (learning rate and eps x 0.5), AdamW's decay per group.
        [InlineData(Packing.Pack, "TinyByteDepthMuP", "adamw")]
        public void Twenty_steps_reproduce_lnsruns_losses(Packing packing, string modelName, string optimizer)
        {
            if (!HasTorch()) return;
            using var data = Data(Corpus(), modelName);
            var options = Options(data, packing) with { Model = modelName, Optimizer = optimizer, Out = Path.Combine(_dir, "lnsrun") };
            new Trainer(options, _ => { }) { Console = false }.Run();
            var lnsrun = new RunDirectory(options.Out!).ReadSteps().Select(s => s.Loss).ToArray();
            Assert.Equal(options.Steps, lnsrun.Length);

            string dir = Export(options, data);
            // First the model alone: the exported model.py's logits against LnsDsl's on step 1's first micro-batch.
            manual_seed(options.Seed);
            using (var model = ModelCatalog.Get(options.Model).Create(options.Seed))
            using (no_grad())
            {
                var (x, _) = Batches.Sample(data.Train, packing, options.MicroBatch, options.Seq, data.Tokenizer.EndOfText, Batches.ForStep(options.Seed, 1));
                var tokens = Enumerable.Range(0, options.MicroBatch).Select(b => x[b].data<long>().ToArray()).ToArray();
                string tokensFile = Path.Combine(_dir, "tokens.json"), logitsFile = Path.Combine(_dir, "logits.json");
                File.WriteAllText(tokensFile, JsonSerializer.Serialize(tokens));
                var (status, text) = Run($"\"{Path.Combine(PythonDir(), "model_logits.py")}\" \"{dir}\" \"{tokensFile}\" \"{logitsFile}\"", 60);
                Assert.True(status == 0, text);
                using var result = JsonDocument.Parse(File.ReadAllText(logitsFile));
                var theirs = tensor(result.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray());
                var ours = model.forward(x).to(ScalarType.Float64).reshape(-1);
                double error = (ours - theirs).norm().item<double>() / ours.norm().item<double>();
                _output.WriteLine($"model.py's logits against LnsDsl's before training: relative error {error:E2}");
                Assert.True(error < 1e-5, $"model.py's logits differ from LnsDsl's: {error}");
            }
            string run = Path.Combine(_dir, "torch");
            var (code, stdout) = Run($"\"{Path.Combine(dir, "train.py")}\" --out \"{run}\"", 120);
            Assert.True(code == 0, stdout);
            var torch = Losses(run);
            Assert.Equal(lnsrun.Length, torch.Length);
            // fp32 on both sides, the same batches and recipe: the losses differ only by rounding (summation order in
            // two libraries), growing slowly with the steps. Tolerance: 1e-5 relative per step (seen: about 2e-7).
            double worst = 0;
            for (int i = 0; i < lnsrun.Length; i++)
            {
                double relative = Math.Abs(torch[i] - lnsrun[i]) / Math.Abs(lnsrun[i]);
                worst = Math.Max(worst, relative);
                _output.WriteLine($"step {i + 1,2}: lnsrun {lnsrun[i]:F7}  train.py {torch[i]:F7}  relative difference {relative:E2}");
            }
            _output.WriteLine($"{packing}: largest relative difference {worst:E2} over {lnsrun.Length} steps (losses {lnsrun[0]:F4} -> {lnsrun[^1]:F4})");
            Assert.True(worst < 1e-5, $"largest relative difference {worst}");
            Assert.True(lnsrun[^1] < lnsrun[0] - 0.5, "the model should learn");
            AssertCheckpoint(run, options.Steps, dir);

            // Back in lnsrun: the checkpoint train.py wrote evaluates to the validation loss train.py printed.
            var printed = new RunDirectory(run).ReadEvaluations();
            Assert.NotEmpty(printed);
            string checkpoint = Path.Combine(run, "checkpoints", $"step-{options.Steps:D7}");
            using var trained = LnsDsl.Loading.ModelSources.Open(checkpoint, null, null, "cpu", "fp32");
            var evaluated = Evaluator.Evaluate(trained, new EvalOptions { Batches = options.EvalBatches, Batch = options.MicroBatch });
            _output.WriteLine($"validation loss: train.py {printed[^1].ValidationLoss:F7}, lnsrun eval {evaluated.Loss:F7}");
            Assert.Equal(options.Steps, evaluated.Step);
            Assert.True(Math.Abs(evaluated.Loss - printed[^1].ValidationLoss) < 1e-5 * printed[^1].ValidationLoss);
        }

        [Fact]
        public void Torchrun_with_two_workers_gives_one_process_losses()
        {
            if (!HasTorch()) return;
            using var data = Data(Corpus());
            var options = Options(data, Packing.Document) with { Steps = 8, Warmup = 2 };
            string dir = Export(options, data);
            string single = Path.Combine(_dir, "single"), two = Path.Combine(_dir, "two");
            var (code, stdout) = Run($"\"{Path.Combine(dir, "train.py")}\" --out \"{single}\"", 120);
            Assert.True(code == 0, stdout);
            (code, stdout) = Run($"{Torchrun} --nproc_per_node 2 --master_port {PythonProcess.FreePort()} \"{Path.Combine(dir, "train.py")}\" --out \"{two}\" --timeout 30", 180);
            Assert.True(code == 0, stdout);
            Assert.Contains("DDP", stdout);
            double[] a = Losses(single), b = Losses(two);
            Assert.Equal(options.Steps, b.Length);
            // The same global batch split over two workers (document packing: padded rows, so the split counts
            // target tokens globally): DDP's averaged gradient is the one-process gradient up to rounding.
            double worst = a.Zip(b, (x, y) => Math.Abs(x - y) / Math.Abs(x)).Max();
            _output.WriteLine($"one process: {string.Join(" ", a.Select(v => v.ToString("F5")))}");
            _output.WriteLine($"two workers: {string.Join(" ", b.Select(v => v.ToString("F5")))}");
            _output.WriteLine($"largest relative difference {worst:E2} (tolerance 1e-5)");
            Assert.True(worst < 1e-5, $"largest relative difference {worst}");
            AssertCheckpoint(two, options.Steps, dir);
        }

        [Fact]
        public void A_killed_worker_stops_the_run_and_the_last_checkpoint_loads()
        {
            if (!HasTorch()) return;
            using var data = Data(Corpus());
            var options = Options(data, Packing.Pack) with { Steps = 2000, Warmup = 2 };
            string dir = Export(options, data);
            string run = Path.Combine(_dir, "killed");
            var psi = new ProcessStartInfo(Python, $"{Torchrun} --nproc_per_node 2 --master_port {PythonProcess.FreePort()} \"{Path.Combine(dir, "train.py")}\" --out \"{run}\" --checkpoint-every 2 --timeout 20")
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var output = new StringBuilder();
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            try
            {
                string checkpoints = Path.Combine(run, "checkpoints"), pid = Path.Combine(run, "ranks", "1.pid");
                var clock = Stopwatch.StartNew();
                while (!(File.Exists(pid) && Directory.Exists(checkpoints) && Directory.GetDirectories(checkpoints, "step-*").Length >= 2))
                {
                    Assert.False(p.HasExited, $"the run ended early:\n{output}");
                    Assert.True(clock.Elapsed.TotalSeconds < 90, $"no checkpoint after 90 s:\n{output}");
                    Thread.Sleep(100);
                }
                int worker = int.Parse(File.ReadAllText(pid).Trim());
                Process.GetProcessById(worker).Kill(); // SIGKILL
                Assert.True(p.WaitForExit(90_000), $"the run did not stop within 90 s of the kill:\n{output}");
                p.WaitForExit();
            }
            finally
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
            }
            string text;
            lock (output) text = output.ToString();
            _output.WriteLine(string.Join("\n", text.Split('\n').Where(l => l.Contains("worker failed") || l.Contains("Error") || l.Contains("checkpoint")).TakeLast(12)));
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains("worker failed", text);
            string last = Directory.GetDirectories(Path.Combine(run, "checkpoints"), "step-*").OrderBy(d => d, StringComparer.Ordinal).Last();
            int step = int.Parse(Path.GetFileName(last)["step-".Length..]);
            _output.WriteLine($"exit code {p.ExitCode}; last checkpoint {Path.GetFileName(last)}");
            AssertCheckpoint(run, step, dir);
        }

        [Fact]
        public void Bf16_adamw_runs_and_a_damaged_cache_is_refused()
        {
            if (!HasTorch()) return;
            using var data = Data(Corpus());
            var options = Options(data, Packing.Pack) with { Steps = 4, Warmup = 1 };
            string dir = Export(options, data);
            string run = Path.Combine(_dir, "bf16");
            var (code, stdout) = Run($"\"{Path.Combine(dir, "train.py")}\" --out \"{run}\" --dtype bf16 --optimizer adamw", 120);
            Assert.True(code == 0, stdout);
            Assert.Contains("bf16", stdout);
            Assert.All(Losses(run), l => Assert.True(double.IsFinite(l) && l > 0 && l < 7, $"loss {l}"));
            var tensors = SafeTensors.Read(Path.Combine(run, "checkpoints", $"step-{options.Steps:D7}", "model.safetensors"));
            Assert.All(tensors.Values, t => Assert.Equal(ScalarType.BFloat16, t.dtype));

            // One flipped byte in a copy of the cache: refused, naming the file and the checksum.
            string damaged = Path.Combine(_dir, "damaged");
            Directory.CreateDirectory(damaged);
            var bytes = File.ReadAllBytes(Path.Combine(data.Directory, "train.lnstok"));
            bytes[bytes.Length / 2] ^= 0x55;
            File.WriteAllBytes(Path.Combine(damaged, "train.lnstok"), bytes);
            (code, stdout) = Run($"\"{Path.Combine(dir, "train.py")}\" --out \"{Path.Combine(_dir, "refused")}\" --cache \"{damaged}\"", 60);
            Assert.Equal(2, code);
            Assert.Contains("checksum mismatch", stdout);
            Assert.Contains("train.lnstok", stdout);
        }

        /// <summary>The checkpoint of <paramref name="step"/> is complete: every parameter, finite, its config and options.</summary>
        private void AssertCheckpoint(string run, int step, string export)
        {
            string checkpoint = Path.Combine(run, "checkpoints", $"step-{step:D7}");
            Assert.True(Directory.Exists(checkpoint), checkpoint);
            var tensors = SafeTensors.Read(Path.Combine(checkpoint, "model.safetensors"));
            var expected = SafeTensors.Read(Path.Combine(export, "model.safetensors"));
            Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), tensors.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (name, t) in tensors)
            {
                Assert.Equal(expected[name].shape, t.shape);
                Assert.True(t.isfinite().all().item<bool>(), name);
            }
            Assert.Equal(File.ReadAllText(Path.Combine(export, "config.json")), File.ReadAllText(Path.Combine(checkpoint, "config.json")));
            using var options = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "options.json")));
            Assert.Equal(step, options.RootElement.GetProperty("Step").GetInt32());
            Assert.Empty(Directory.GetDirectories(Path.Combine(run, "checkpoints"), ".step-*"));
        }

        private TrainOptions Options(DataSet data, Packing packing) => new()
        {
            Model = ModelName, Data = Corpus(), Tokenizer = "bytes", Compact = 0, Packing = packing,
            Steps = 20, Batch = 4, MicroBatch = 2, Seq = 32, Lr = 3e-3, Warmup = 3, WeightDecay = 0.01, Clip = 0.5,
            EvalEvery = 0, CheckpointEvery = 0, Seed = 11, Device = "cpu", Dtype = "fp32", Threads = 1,
        };

        private DataSet Data(string corpus, string model = ModelName) => DataSet.ForModel(corpus, "bytes", 0, ModelCatalog.Get(model).Spec);

        /// <summary>An export directory: <see cref="PyTorchExport.Write"/> of the initial weights lnsrun starts from
        /// (manual_seed then Create(seed)), with options.json and train.py.</summary>
        private string Export(TrainOptions options, DataSet data)
        {
            string dir = Path.Combine(_dir, "export-" + Guid.NewGuid().ToString("N")[..8]);
            manual_seed(options.Seed);
            using (var model = ModelCatalog.Get(options.Model).Create(options.Seed))
                PyTorchExport.Write(model, dir, new PyTorchExportOptions
                {
                    Run = PyTorchRunOptions.For(model, options, 0, data.Directory, data.Tokenizer.EndOfText),
                    Tokenizer = data.Tokenizer,
                });
            Assert.True(File.Exists(Path.Combine(dir, TrainScript.FileName)));
            return dir;
        }

        private static double[] Losses(string run) => new RunDirectory(run).ReadSteps().Select(s => s.Loss).ToArray();

        /// <summary>24 documents of deterministic pseudo-English (as the CLI tests write).</summary>
        private string Corpus() => TestCorpus.RandomWords(Path.Combine(_dir, "corpus"), seed: 1, length: d => 60 + 40 * (d % 5));


        private bool HasTorch() => PythonProcess.Available("torch, numpy, torch.distributed", _output, "the train.py check");

        private (int Code, string Output) Run(string arguments, int seconds)
        {
            var (code, stdout, errors) = PythonProcess.Run(arguments, seconds);
            string text = stdout + errors;
            if (code != 0) _output.WriteLine($"python3 {arguments} -> {code}\n{text}");
            return (code, text);
        }
    }
}
