using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using LnsDsl.Interop;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// Imported checkpoints against PyTorch: <c>python/hf_logits.py</c> reads the same directory itself and computes the
    /// Hugging Face forward pass in float64 (no LnsDsl code involved). Runs where <c>/usr/bin/python3</c> imports
    /// torch (Debian: python3-torch, which .ci/run installs); elsewhere it says so in the test output and passes.
    /// </summary>
    [Collection("Console")] // they set LNSDSL_CACHE, a process-wide variable other tests of that collection set too
    public sealed class HuggingFacePyTorchTests : IDisposable
    {
        private const string Python = PythonProcess.Executable;
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-hfpt-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");

        public HuggingFacePyTorchTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(Path.GetTempPath(), "lnsdsl-test-cache"));
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            Directory.Delete(_dir, recursive: true);
        }

        private static string Script([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "python", "hf_logits.py");

        [Fact]
        public void Every_family_imported_gives_pytorchs_logits()
        {
            if (!PythonProcess.Available("torch", _output, "the PyTorch cross-check")) return;
            double worst = 0;
            foreach (var (family, edit) in new (string, Action<JsonObject>)[]
            {
                ("llama", c => { c["attention_bias"] = true; c["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 16 }; }),
                ("mistral", c => c["rope_theta"] = 1000000.0),
                ("qwen2", _ => { }),
                ("qwen3", _ => { }),
                ("gemma2", _ => { }),
                ("olmo2", _ => { }),
            })
            {
                var config = HfCheckpoints.Config(family, edit);
                string dir = HfCheckpoints.Write(Path.Combine(_dir, family), config, HfCheckpoints.Weights(config, seed: 5), ScalarType.BFloat16);
                var tokens = new long[][] { new long[] { 1, 5, 9, 66, 3, 3, 40, 12 }, new long[] { 0, 7, 22, 31, 64, 2, 8, 50 } };
                string tokensFile = Path.Combine(_dir, "tokens.json"), outFile = Path.Combine(_dir, family + ".json");
                File.WriteAllText(tokensFile, JsonSerializer.Serialize(tokens));
                Assert.Equal(0, Run($"\"{Script()}\" \"{dir}\" \"{tokensFile}\" \"{outFile}\""));
                using var result = JsonDocument.Parse(File.ReadAllText(outFile));
                var expected = tensor(result.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray())
                    .reshape(result.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
                using var model = HuggingFace.Load(dir, ScalarType.Float32);
                using var noGrad = no_grad();
                var actual = model.forward(tensor(tokens.SelectMany(t => t).ToArray()).reshape(2, 8)).to(ScalarType.Float64);
                double error = (actual - expected).norm().item<double>() / expected.norm().item<double>();
                _output.WriteLine($"{family}: relative error {error:E2} against PyTorch {result.RootElement.GetProperty("torch").GetString()}");
                Assert.True(error < 1e-5, $"{family}: {error}");
                worst = Math.Max(worst, error);
            }
            _output.WriteLine($"largest relative error {worst:E2}");
        }

        private int Run(string arguments)
        {
            var (code, stdout, errors) = PythonProcess.Run(arguments);
            if (code != 0) _output.WriteLine($"python3 {arguments} -> {code}\n{stdout}{errors}");
            return code;
        }
    }
}
