using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using LnsDsl.Tests;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.IntegrationTests
{
    /// <summary>
    /// The checkpoints every verb is tried on, made once: a pre-trained run (and one of its step directories), a run
    /// fine-tuned from it, the run converted to RMSNorm, its PyTorch export, a checkpoint train.py wrote from that export
    /// (where /usr/bin/python3 has torch; in CI it must), and a Hugging Face directory. The model is a Pre-LN + LNS
    /// LayerNorm model of the test assembly; only the first run is given that assembly: every other step, and every
    /// cell of the matrix, finds the model from the checkpoint alone.
    /// </summary>
    public sealed class CheckpointMatrix : IDisposable
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), "lnsdsl-matrix-" + Guid.NewGuid().ToString("N"));
        public string Corpus { get; }
        public string Instructions { get; }
        public string Task { get; }
        public IReadOnlyDictionary<string, string> Kinds => _kinds;
        /// <summary>The pre-trained run's validation loss and task accuracy, measured in a fresh process.</summary>
        public double RunLoss { get; }
        public double RunAcc { get; }
        public string? TorchMissing { get; }
        public List<string> Log { get; } = new();
        private readonly Dictionary<string, string> _kinds = new();

        /// <summary>The recipe of the pre-trained run (train --resume must repeat it).</summary>
        public string[] Recipe => new[] { "--data", Corpus, "--tokenizer", "bytes", "--compact", "61", "--batch", "4", "--seq", "32", "--warmup", "2",
                                          "--lr", "3e-3", "--eval-every", "0", "--eval-batches", "2", "--checkpoint-every", "3", "--steps", "8" };

        public CheckpointMatrix()
        {
            Directory.CreateDirectory(Root);
            Corpus = TestCorpus.RandomWords(Path.Combine(Root, "corpus"), seed: 1, length: _ => 400);
            Instructions = Path.Combine(Root, "sft.jsonl");
            File.WriteAllLines(Instructions, Enumerable.Range(0, 40).Select(i => JsonSerializer.Serialize(new { prompt = $"say {i % 7}", response = $"{i % 7} {i % 7}" })));
            Task = Path.Combine(Root, "task.jsonl");
            File.WriteAllLines(Task, Enumerable.Range(0, 6).Select(i => JsonSerializer.Serialize(new { context = $"the {i} of", choices = new[] { "the deep", "zzq", "a layer" }, label = i % 3 })));
            string cache = Path.Combine(Root, "cache");
            string Dir(string name) => Path.Combine(Root, name);

            string run = Dir("run");
            Must(Lnsrun.Run(Root, cache, new[] { "train", "TinyLayerNormSwiGluBiases", "--stop-at", "6", "--out", run, "--assembly", Lnsrun.TestModels }.Concat(Recipe).ToArray()));
            _kinds["run"] = run;
            _kinds["step"] = Path.Combine(run, "checkpoints", "step-0000003");
            string fineTuned = Dir("finetuned");
            Must(Lnsrun.Run(Root, cache, "finetune", "--checkpoint", run, "--data", Instructions, "--steps", "4", "--stop-at", "3", "--batch", "4", "--seq", "32",
                "--warmup", "1", "--lr", "3e-3", "--eval-every", "0", "--eval-batches", "1", "--out", fineTuned));
            _kinds["finetuned"] = fineTuned;
            string converted = Dir("converted");
            Must(Lnsrun.Run(Root, cache, "convert", "--checkpoint", run, "--to", "rmsnorm", "--out", converted));
            _kinds["converted"] = converted;
            string export = Dir("pytorch");
            Must(Lnsrun.Run(Root, cache, "export", "--checkpoint", run, "--pytorch", export));
            _kinds["pytorch"] = export;
            if (PythonProcess.Imports("torch, numpy"))
            {
                var (code, output, errors) = PythonProcess.Run($"\"{Path.Combine(export, "train.py")}\" --out \"{Dir("trainpy")}\" --stop-at 7 --threads 1", 300);
                Log.Add($"$ python3 train.py --stop-at 7 -> {code}\n{output}{errors}");
                Assert.True(code == 0, output + errors);
                _kinds["trainpy"] = Path.Combine(Dir("trainpy"), "checkpoints", "step-0000007");
            }
            else TorchMissing = $"{PythonProcess.Executable} cannot import torch";
            var config = HfCheckpoints.Config("llama", c => c["vocab_size"] = 300);
            string hf = HfCheckpoints.Write(Dir("huggingface"), config, HfCheckpoints.Weights(config), TorchSharp.torch.ScalarType.Float32);
            HfCheckpoints.WriteByteLevelTokenizer(hf, "t h", "th e", "e e", "d e");
            _kinds["huggingface"] = hf;

            var eval = Must(Lnsrun.Run(Root, cache, "eval", "--checkpoint", run, "--batches", "2", "--batch", "2"));
            RunLoss = Lnsrun.Loss(eval.Out);
            var tasks = Must(Lnsrun.Run(Root, cache, "eval", "--checkpoint", run, "--tasks", Task));
            RunAcc = Lnsrun.TaskAcc(tasks.Out).Acc;
        }

        private (int Code, string Out, string Err) Must((int Code, string Out, string Err) r)
        {
            Log.Add(r.Out + r.Err);
            Assert.True(r.Code == 0, $"setup failed (exit {r.Code}):\n{r.Out}\n{r.Err}");
            return r;
        }

        public void Dispose()
        {
            try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>lnsrun as a child process (the built lnsrun.dll beside the tests), in a directory, with a cache.</summary>
    internal static class Lnsrun
    {
        public static string TestModels => typeof(LnsDsl.Tests.Models.TinyByteLns).Assembly.Location;

        public static (int Code, string Out, string Err) Run(string directory, string cache, params string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lnsrun.dll"));
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["LNSDSL_CACHE"] = cache;
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(600_000)) p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (p.ExitCode, output, err.Result);
        }

        public static double Loss(string output)
        {
            var m = Regex.Match(output, @"validation loss ([0-9.]+|NaN)");
            Assert.True(m.Success, "no 'validation loss' in:\n" + output);
            return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        /// <summary>The task row of <c>eval --tasks</c>: n, acc and acc_norm.</summary>
        public static (int N, double Acc, double AccNorm) TaskAcc(string output)
        {
            var m = Regex.Match(output, @"^task\s+plain\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)", RegexOptions.Multiline);
            Assert.True(m.Success, "no task row in:\n" + output);
            var c = CultureInfo.InvariantCulture;
            return (int.Parse(m.Groups[1].Value, c), double.Parse(m.Groups[2].Value, c), double.Parse(m.Groups[3].Value, c));
        }
    }

    /// <summary>
    /// Every verb that takes a checkpoint, on every kind of checkpoint, each cell a child process in a new directory
    /// with a new LNSDSL_CACHE and no --assembly: nothing an earlier cell compiled or registered is there. A cell asserts
    /// the exit code and a figure or a written file; a combination refused by design asserts its message and that
    /// nothing was written.
    /// </summary>
    public sealed class CheckpointMatrixTests : IClassFixture<CheckpointMatrix>
    {
        private readonly CheckpointMatrix _m;
        private readonly ITestOutputHelper _output;

        public CheckpointMatrixTests(CheckpointMatrix matrix, ITestOutputHelper output)
        {
            _m = matrix;
            _output = output;
        }

        public static readonly string[] Kinds = { "run", "step", "finetuned", "converted", "pytorch", "trainpy", "huggingface" };
        public static readonly string[] Verbs = { "eval", "eval-tasks", "generate", "analyze", "compare", "export-hf", "export-pytorch", "finetune", "convert", "train-resume" };

        public static IEnumerable<object[]> Cells() => Verbs.SelectMany(v => Kinds.Select(k => new object[] { v, k }));

        [Theory]
        [MemberData(nameof(Cells))]
        public void Verb_on_checkpoint_kind_in_a_fresh_process(string verb, string kind)
        {
            if (kind == "trainpy" && _m.TorchMissing is not null)
            {
                PythonProcess.Available("torch, numpy", _output, "the train.py checkpoint's cells"); // fails in CI, says SKIPPED elsewhere
                return;
            }
            string cell = Path.Combine(_m.Root, "cells", $"{verb}-{kind}");
            Directory.CreateDirectory(cell);
            string cache = Path.Combine(cell, "cache"); // fresh: no compiled model, no token cache
            string path = _m.Kinds[kind];
            bool hf = kind == "huggingface";
            string[] hfData = hf ? new[] { "--data", _m.Corpus, "--seq", "32" } : Array.Empty<string>();
            (int Code, string Out, string Err) Lnsrun(params string[] args)
            {
                var r = IntegrationTests.Lnsrun.Run(cell, cache, args);
                _output.WriteLine($"$ lnsrun {string.Join(" ", args)}  -> exit {r.Code}\n{r.Out}{r.Err}");
                return r;
            }
            void Refused((int Code, string Out, string Err) r, string phrase, string? notWritten = null)
            {
                Assert.Equal(2, r.Code);
                Assert.Contains(phrase, r.Err);
                if (notWritten is not null) Assert.False(Directory.Exists(notWritten), $"{notWritten} was written");
            }
            bool isRun = kind is "run" or "step" or "finetuned" or "converted";

            switch (verb)
            {
                case "eval":
                {
                    var r = Lnsrun(new[] { "eval", "--checkpoint", path, "--batches", "2", "--batch", "2" }.Concat(hfData).ToArray());
                    Assert.Equal(0, r.Code);
                    double loss = IntegrationTests.Lnsrun.Loss(r.Out);
                    Assert.True(double.IsFinite(loss) && loss > 0, $"loss {loss}");
                    if (kind is "converted" or "pytorch") Assert.Equal(_m.RunLoss, loss, 3); // the same function (converted) or the same weights (exported)
                    if (kind == "finetuned") Assert.Contains("held out", r.Out); // its own held-out instruction examples
                    if (kind is "run" or "step" or "converted" or "pytorch" or "trainpy") Assert.True(loss < Math.Log(61), $"loss {loss} is not below uniform over 61 ids");
                    break;
                }
                case "eval-tasks":
                {
                    var r = Lnsrun("eval", "--checkpoint", path, "--tasks", _m.Task);
                    Assert.Equal(0, r.Code);
                    var (n, acc, accNorm) = IntegrationTests.Lnsrun.TaskAcc(r.Out);
                    Assert.Equal(6, n);
                    Assert.InRange(acc, 0, 1);
                    Assert.InRange(accNorm, 0, 1);
                    if (kind is "converted" or "pytorch") Assert.Equal(_m.RunAcc, acc, 6);
                    break;
                }
                case "generate":
                {
                    var r = Lnsrun("generate", "--checkpoint", path, "--prompt", "the", "--max-tokens", "8", "--seed", "1");
                    Assert.Equal(0, r.Code);
                    Assert.StartsWith("the", r.Out);
                    Assert.True(r.Out.TrimEnd().Length > 3, "nothing was generated");
                    break;
                }
                case "analyze":
                {
                    string output = Path.Combine(cell, "analysis");
                    var r = Lnsrun(new[] { "analyze", "--checkpoint", path, "--batches", "1", "--batch", "2", "--skip-gradients", "--out", output }.Concat(hfData).ToArray());
                    Assert.Equal(0, r.Code);
                    Assert.Contains("removal-drop uniformity", r.Out);
                    Assert.NotEmpty(Directory.GetFiles(output, "*.csv"));
                    Assert.True(File.Exists(Path.Combine(output, "removal.png")));
                    break;
                }
                case "compare":
                {
                    string root = Path.Combine(cell, "compare");
                    var r = Lnsrun("compare", "--checkpoint", path, "--data", _m.Corpus, "--tokenizer", "bytes", "--steps", "2", "--batch", "2", "--seq", "32",
                        "--warmup", "1", "--eval-batches", "1", "--analysis-batches", "1", "--out", root);
                    Assert.Equal(0, r.Code);
                    var table = File.ReadAllText(Path.Combine(root, "compare.md"));
                    Assert.Matches(@"\| [^|]+ \| imported \| 1 \| 0 \| [0-9.]+ ± ", table);
                    break;
                }
                case "export-hf":
                {
                    string output = Path.Combine(cell, "hf");
                    var r = Lnsrun("export", "--checkpoint", path, "--hf", output);
                    if (hf)
                    {
                        Assert.Equal(0, r.Code);
                        Assert.Contains("LlamaForCausalLM", File.ReadAllText(Path.Combine(output, "config.json")));
                        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
                    }
                    else Refused(r, "the Llama family computes RMSNorm", output); // LayerNorm / RMSNorm + bias: no Hugging Face class computes them
                    break;
                }
                case "export-pytorch":
                {
                    string output = Path.Combine(cell, "pt");
                    var r = Lnsrun(new[] { "export", "--checkpoint", path, "--pytorch", output }.Concat(hf ? new[] { "--data", _m.Corpus } : Array.Empty<string>()).ToArray());
                    Assert.Equal(0, r.Code);
                    Assert.True(File.Exists(Path.Combine(output, "model.py")));
                    using var options = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "options.json")));
                    var root = options.RootElement;
                    Assert.True(root.GetProperty("DecayedParameters").GetArrayLength() > 0);
                    Assert.Equal(0.999, root.GetProperty("Adam").GetProperty("Beta2").GetDouble());
                    if (kind == "finetuned")
                    {
                        Assert.Equal(JsonValueKind.Null, root.GetProperty("Cache").ValueKind); // instruction data: no token cache
                        Assert.Contains("no token cache", r.Err);
                        ModelPyMatches(path, output);
                    }
                    else Assert.True(File.Exists(Path.Combine(root.GetProperty("Cache").GetString()!, "train.lnstok")), "the recorded token cache is not there");
                    break;
                }
                case "finetune":
                {
                    string output = Path.Combine(cell, "ft");
                    string[] recipe = { "--data", _m.Instructions, "--steps", "2", "--batch", "4", "--seq", "32", "--warmup", "1", "--eval-every", "0", "--eval-batches", "1", "--out", output };
                    var r = Lnsrun(new[] { "finetune", hf ? "--hf" : "--checkpoint", path }.Concat(recipe).ToArray());
                    if (kind is "pytorch" or "trainpy")
                    {
                        Refused(r, "a PyTorch export", output);
                        break;
                    }
                    Assert.Equal(0, r.Code);
                    Assert.True(Directory.Exists(Path.Combine(output, "checkpoints", "step-0000002")));
                    Assert.Equal(2, File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Length);
                    break;
                }
                case "convert":
                {
                    string output = Path.Combine(cell, "cv");
                    var r = Lnsrun("convert", "--checkpoint", path, "--to", kind == "converted" ? "layernorm" : "rmsnorm", "--out", output);
                    if (!isRun)
                    {
                        Refused(r, hf ? "Hugging Face checkpoint" : "a PyTorch export", output);
                        break;
                    }
                    Assert.Equal(0, r.Code);
                    var m = Regex.Match(r.Out, @"-> (\S+) at step (\d+)");
                    Assert.True(m.Success, r.Out);
                    Assert.StartsWith("TinyLayerNormSwiGluBiases", m.Groups[1].Value);
                    Assert.EndsWith(kind == "converted" ? "_LayerNorm" : "_RmsNorm", m.Groups[1].Value);
                    Assert.True(File.Exists(Path.Combine(output, "checkpoints", $"step-{int.Parse(m.Groups[2].Value):D7}", "state.json")));
                    break;
                }
                case "train-resume":
                {
                    if (!isRun || kind == "step")
                    {
                        var refused = Lnsrun(new[] { "train", "--resume", "--out", path }.Concat(_m.Recipe).ToArray());
                        Refused(refused, kind switch { "step" => "no checkpoint to resume from", "huggingface" => "a Hugging Face checkpoint", _ => "a PyTorch export" });
                        break;
                    }
                    string copy = Path.Combine(cell, "run");
                    Copy(path, copy);
                    var r = kind == "finetuned"
                        ? Lnsrun("finetune", "--resume", "--checkpoint", _m.Kinds["run"], "--data", _m.Instructions, "--steps", "4", "--batch", "4", "--seq", "32",
                            "--warmup", "1", "--lr", "3e-3", "--eval-every", "0", "--eval-batches", "1", "--out", copy)
                        : Lnsrun(new[] { "train", "--resume", "--out", copy }.Concat(_m.Recipe).ToArray());
                    Assert.Equal(0, r.Code);
                    int end = kind == "finetuned" ? 4 : 8;
                    Assert.True(Directory.Exists(Path.Combine(copy, "checkpoints", $"step-{end:D7}")), $"no checkpoint at step {end}");
                    var steps = File.ReadAllLines(Path.Combine(copy, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToList();
                    Assert.Equal(end, steps[^1]);
                    break;
                }
                default:
                    throw new ArgumentOutOfRangeException(nameof(verb), verb, null);
            }
        }

        /// <summary>The exported model.py's logits (PyTorch) against the run's own model's (lnsrun) on fixed tokens.</summary>
        private void ModelPyMatches(string run, string export)
        {
            if (!PythonProcess.Available("torch", _output, "the fine-tuned export's model.py check")) return;
            long[][] tokens = { Enumerable.Range(0, 16).Select(i => (long)((i * 7 + 3) % 61)).ToArray(), Enumerable.Range(0, 16).Select(i => (long)((i * 5 + 1) % 61)).ToArray() };
            string tokensFile = Path.Combine(export, "..", "tokens.json"), logitsFile = Path.Combine(export, "..", "logits.json");
            File.WriteAllText(tokensFile, JsonSerializer.Serialize(tokens));
            var (code, stdout, errors) = PythonProcess.Run($"\"{ModelLogitsScript()}\" \"{export}\" \"{tokensFile}\" \"{logitsFile}\"", 120);
            Assert.True(code == 0, stdout + errors);
            using var result = JsonDocument.Parse(File.ReadAllText(logitsFile));
            var theirs = result.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            using var trained = LnsDsl.Loading.ModelSources.Open(run, null, TorchSharp.torch.CPU, "fp32");
            using var noGrad = TorchSharp.torch.no_grad();
            var ours = trained.Model.forward(TorchSharp.torch.tensor(tokens.SelectMany(t => t).ToArray(), new long[] { 2, 16 })).to(TorchSharp.torch.ScalarType.Float64).reshape(-1).data<double>().ToArray();
            Assert.Equal(ours.Length, theirs.Length);
            double error = Math.Sqrt(ours.Zip(theirs, (a, b) => (a - b) * (a - b)).Sum() / ours.Sum(a => a * a));
            _output.WriteLine($"fine-tuned export: model.py logits vs lnsrun's, relative error {error:E2}");
            Assert.True(error < 1e-5, $"model.py's logits differ from the fine-tuned run's by {error:E2}");
        }

        private static string ModelLogitsScript([System.Runtime.CompilerServices.CallerFilePath] string here = "")
            => Path.Combine(Path.GetDirectoryName(here)!, "..", "LnsDsl.Tests", "Interop", "python", "model_logits.py");

        private static void Copy(string from, string to)
        {
            foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
                Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
            Directory.CreateDirectory(to);
            foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
                File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }
}
