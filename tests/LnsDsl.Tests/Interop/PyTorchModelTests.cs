using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json;
using LnsDsl.Interop;
using LnsDsl.Interop.PyTorch;
using LnsDsl.Runs;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// <c>model.py</c> (<see cref="PyTorchExport"/>) against the TorchSharp model it was exported from: every tiny test
    /// model and the zoo's 6x128 family, weights randomised, one Python process computing all their logits with the
    /// exported code alone. Runs where <c>/usr/bin/python3</c> imports torch; elsewhere it says so and passes.
    /// </summary>
    public sealed class PyTorchModelTests : IDisposable
    {
        private const string Python = PythonProcess.Executable;
        private static readonly string[] Zoo = { "PreLn6x128", "Lns6x128", "PostLn6x128", "MixLn6x128", "PeriLn6x128", "DeepNorm6x128", "LnsScaledInit6x128" };
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-ptm-" + Guid.NewGuid().ToString("N"));

        public PyTorchModelTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
            ModelCatalog.Register(typeof(LnsDsl.Tests.Models.TinyPre).Assembly);
            ModelCatalog.Register(typeof(LnsDsl.Models.PreLn6x128).Assembly);
        }

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        /// <summary>Every model the test models' assembly declares, then the zoo's small family.</summary>
        private static IEnumerable<ModelEntry> Models()
        {
            var assembly = typeof(LnsDsl.Tests.Models.TinyPre).Assembly;
            var names = assembly.GetCustomAttributes<GeneratedModelAttribute>().Select(a => a.ModelType.FullName!).OrderBy(n => n, StringComparer.Ordinal);
            return names.Concat(Zoo).Select(ModelCatalog.Get);
        }

        private static readonly long[] Tokens = Enumerable.Range(0, 16).Select(i => (long)((i * 7 + 3) % 61)).ToArray();

        [Fact]
        public void Every_model_py_gives_the_torchsharp_logits()
        {
            if (!PythonProcess.Available("torch", _output, "the model.py cross-check")) return;
            var jobs = new List<(string Name, string Dir, string Out, string Dtype, bool Unscale)>();
            var expected = new Dictionary<string, Tensor>();
            foreach (var entry in Models())
            {
                using var model = entry.Create(1);
                Reference.Randomize(model, 7);
                string dir = Path.Combine(_dir, entry.Name);
                PyTorchExport.Write(model, dir);
                using (no_grad())
                    expected[entry.Name] = model.forward(tensor(Tokens).reshape(2, 8)).to(ScalarType.Float64);
                jobs.Add((entry.Name, dir, Path.Combine(_dir, entry.Name + ".out.safetensors"), "float32", false));
            }
            // bf16: the stored dtype is the loaded model's.
            using (var model = ModelCatalog.Get("TinyLns").Create(1))
            {
                Reference.Randomize(model, 7);
                string dir = Path.Combine(_dir, "TinyLns-bf16");
                PyTorchExport.Write(model, dir, new PyTorchExportOptions { Dtype = "bf16" });
                Assert.All(SafeTensors.ReadHeader(Path.Combine(dir, PyTorchExport.WeightsFile)).Entries, e => Assert.Equal("BF16", e.Dtype));
                using (no_grad())
                    expected["TinyLns-bf16"] = model.forward(tensor(Tokens).reshape(2, 8)).to(ScalarType.Float64);
                jobs.Add(("TinyLns-bf16", dir, Path.Combine(_dir, "TinyLns-bf16.out.safetensors"), "bfloat16", false));
            }
            // The control: TinyLns's model.py with its LNS factors set to 1 must miss (the comparison sees the factors).
            expected["TinyLns-unscaled"] = expected["TinyLns"].alias();
            jobs.Add(("TinyLns-unscaled", Path.Combine(_dir, "TinyLns"), Path.Combine(_dir, "TinyLns-unscaled.out.safetensors"), "float32", true));

            string driver = Path.Combine(_dir, "driver.py");
            File.WriteAllText(driver, Driver);
            string jobsFile = Path.Combine(_dir, "jobs.json");
            File.WriteAllText(jobsFile, JsonSerializer.Serialize(new
            {
                tokens = Tokens,
                dtypes = Path.Combine(_dir, "dtypes.safetensors"),
                jobs = jobs.Select(j => new { name = j.Name, dir = j.Dir, @out = j.Out, dtype = j.Dtype, unscale = j.Unscale }),
            }));
            var watch = Stopwatch.StartNew();
            Assert.Equal(0, Run($"\"{driver}\" \"{jobsFile}\""));
            _output.WriteLine($"python: {watch.Elapsed.TotalSeconds:F1} s for {jobs.Count} models");

            var header = SafeTensors.ReadHeader(Path.Combine(_dir, "dtypes.safetensors"));
            Assert.Equal(0, header.DataStart % 8);
            Assert.Equal("pt", header.Metadata["format"]);
            Assert.Equal(new[] { "F64", "F32", "F16", "BF16", "I64", "I32", "U8", "BOOL", "F32", "F32" }, header.Entries.Select(e => e.Dtype));
            var written = SafeTensors.Read(Path.Combine(_dir, "dtypes.safetensors"));
            Assert.Equal(new[] { 1.5, -2.25 }, written["f64"].data<double>().ToArray());
            Assert.Equal(new[] { 1.0f, -3.0e38f, 0.0078125f }, written["bf16"].to(ScalarType.Float32).data<float>().ToArray(), new ToleranceComparer(1e-2));
            Assert.Equal(new[] { -1L, 1L << 40 }, written["i64"].data<long>().ToArray());
            Assert.Equal(new[] { true, false, true }, written["bool"].data<bool>().ToArray());
            Assert.Empty(written["scalar"].shape);
            Assert.Equal(new long[] { 0, 4 }, written["empty"].shape);

            double worst = 0;
            string worstName = "";
            foreach (var job in jobs)
            {
                var result = SafeTensors.Read(job.Out);
                var actual = result["logits"];
                var want = expected[job.Name];
                Assert.Equal(want.shape, actual.shape);
                double error = (actual - want).norm().item<double>() / want.norm().item<double>();
                _output.WriteLine($"{job.Name}: relative error {error:E2}");
                if (job.Unscale)
                {
                    Assert.True(error > 1e-3, $"{job.Name}: the LNS factors made no difference ({error})");
                    continue;
                }
                if (job.Dtype == "bfloat16")
                {
                    Assert.True(error < 0.05, $"{job.Name} (bf16 against fp32): {error}");
                    continue;
                }
                Assert.True(error < 1e-5, $"{job.Name}: {error}");
                if (error > worst) (worst, worstName) = (error, job.Name);
            }
            _output.WriteLine($"largest relative error {worst:E2} ({worstName})");
            foreach (var t in expected.Values) t.Dispose();
        }

        [Fact]
        public void A_tied_model_has_no_lm_head_and_names_are_lnsdsls()
        {
            using var model = ModelCatalog.Get("TinyGqaTied").Create(1);
            string dir = Path.Combine(_dir, "tied");
            PyTorchExport.Write(model, dir);
            var names = SafeTensors.ReadHeader(Path.Combine(dir, PyTorchExport.WeightsFile)).Entries.Select(e => e.Name).ToHashSet();
            Assert.DoesNotContain("lm_head.weight", names);
            Assert.Equal(model.named_parameters().Select(p => p.name).ToHashSet(), names);
            Assert.Equal("pt", SafeTensors.ReadMetadata(Path.Combine(dir, PyTorchExport.WeightsFile))["format"]);
            var config = JsonSerializer.Deserialize<ModelSpec>(File.ReadAllText(Path.Combine(dir, PyTorchExport.ConfigFile)), RunDirectory.Json)!;
            Assert.Equal(model.Spec.Blocks, config.Blocks);
            Assert.Equal(model.Spec with { Blocks = config.Blocks }, config);
            Assert.Contains("\"Norm\": \"Pre\"", File.ReadAllText(Path.Combine(dir, PyTorchExport.ConfigFile)));
        }

        [Fact]
        public void A_non_empty_directory_is_refused_and_left_untouched()
        {
            using var model = ModelCatalog.Get("TinyPre").Create(1);
            string dir = Path.Combine(_dir, "taken");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
            var e = Assert.ThrowsAny<Exception>(() => PyTorchExport.Write(model, dir));
            Assert.Contains("not empty", e.Message);
            Assert.Equal(new[] { Path.Combine(dir, "notes.txt") }, Directory.GetFileSystemEntries(dir));
            Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "notes.txt")));
            Assert.Equal(new[] { dir }, Directory.GetDirectories(_dir)); // no partial sibling left behind

            string empty = Path.Combine(_dir, "empty");
            Directory.CreateDirectory(empty);
            PyTorchExport.Write(model, empty);
            Assert.Equal(new[] { "README.md", "config.json", "model.py", "model.safetensors", "options.json", "train.py" },
                Directory.GetFiles(empty).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
        }

        [Fact]
        public void Model_py_shows_each_blocks_factors_as_literals()
        {
            string py = PyTorchModelEmitter.ModelPy(ModelCatalog.Get("TinyMixLns").Spec);
            Assert.Contains("TinyMixLns", py);
            Assert.Contains("(\"PostLn\", 1.0, 1.0),  # block 1: Post-LN", py);
            Assert.Contains("(\"PreLn\", 0.5773502691896258, 1.0),  # block 3: Pre-LN, LNS 1/sqrt(3)", py);
            Assert.Contains("class PostLnBlock(nn.Module):", py);
            Assert.Contains("class PreLnBlock(nn.Module):", py);
            Assert.DoesNotContain("class PeriLnBlock", py);
            Assert.Contains("Generated by LnsDsl", py);
            Assert.Contains("def read_safetensors(path)", py);
            Assert.Contains("def write_safetensors(path, tensors, metadata=None)", py);
            Assert.Contains("def load(directory)", py);
        }

        private const string Driver = """
import importlib.util
import json
import sys

import torch

spec = json.load(open(sys.argv[1]))
tokens = torch.tensor(spec["tokens"], dtype=torch.int64).reshape(2, 8)
sample = {
    "f64": torch.tensor([1.5, -2.25], dtype=torch.float64), "f32": torch.tensor([[0.1, 2.0], [3.0, -4.0]]),
    "f16": torch.tensor([0.5, 65504.0], dtype=torch.float16), "bf16": torch.tensor([1.0, -3.0e38, 0.0078125], dtype=torch.bfloat16),
    "i64": torch.tensor([-1, 2**40], dtype=torch.int64), "i32": torch.tensor([7, -2**31], dtype=torch.int32),
    "u8": torch.tensor([0, 255], dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(3.0), "empty": torch.zeros(0, 4),
}
for i, job in enumerate(spec["jobs"]):
    module_spec = importlib.util.spec_from_file_location(f"exported_model_{i}", job["dir"] + "/model.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if job["unscale"]:
        module.BLOCKS = [(placement, 1.0, alpha) for placement, s, alpha in module.BLOCKS]
    model = module.load(job["dir"])
    dtypes = {p.dtype for p in model.parameters()}
    want = getattr(torch, job["dtype"])
    if dtypes != {want}:
        raise SystemExit(f"{job['name']}: parameters in {dtypes}, expected {want}")
    if model.training:
        raise SystemExit(f"{job['name']}: not in eval mode")
    with torch.no_grad():
        logits = model(tokens)
    if logits.dtype != want:
        raise SystemExit(f"{job['name']}: logits in {logits.dtype}")
    module.write_safetensors(job["out"], {"logits": logits.double()})
    if i == 0:  # the file functions: every dtype round-trips, and LnsDsl reads what they write
        module.write_safetensors(spec["dtypes"], sample)
        back = module.read_safetensors(spec["dtypes"])
        for name, t in sample.items():
            if back[name].dtype != t.dtype or back[name].shape != t.shape or not torch.equal(back[name], t):
                raise SystemExit(f"safetensors round trip of {name}: {back[name]} != {t}")
""";

        private sealed class ToleranceComparer(double relative) : IEqualityComparer<float>
        {
            public bool Equals(float a, float b) => Math.Abs(a - b) <= relative * Math.Abs(b);
            public int GetHashCode(float value) => 0;
        }


        private int Run(string arguments)
        {
            var (code, stdout, errors) = PythonProcess.Run(arguments);
            if (code != 0) _output.WriteLine($"python3 {arguments} -> {code}\n{stdout}{errors}");
            return code;
        }
    }
}
