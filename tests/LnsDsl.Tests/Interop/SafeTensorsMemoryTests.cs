using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using LnsDsl.Interop;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Measures the whole process's resident memory: nothing else in the process may run meanwhile.</summary>
    [CollectionDefinition("Memory", DisableParallelization = true)]
    public sealed class MemoryCollection { }

    /// <summary>Reading a file holds it once: the process's peak resident memory grows by about the tensors' size, not twice it.</summary>
    [Collection("Memory")]
    public sealed class SafeTensorsMemoryTests : IDisposable
    {
        private const long Elements = 50_000_000; // 200 MB of F32
        private readonly ITestOutputHelper _output;
        private readonly string _path = Path.Combine(Path.GetTempPath(), "lnsdsl-stm-" + Guid.NewGuid().ToString("N") + ".safetensors");

        public SafeTensorsMemoryTests(ITestOutputHelper output) => _output = output;

        public void Dispose() => File.Delete(_path);

        [Fact]
        public void Reading_a_200_MB_file_does_not_hold_two_copies()
        {
            if (!OperatingSystem.IsLinux()) return; // measured through /proc/self
            using (var big = torch.ones(Elements, ScalarType.Float32))
                SafeTensors.Write(_path, new Dictionary<string, Tensor> { ["big"] = big, ["small"] = torch.arange(10) });
            long size = new FileInfo(_path).Length;
            GC.Collect();
            GC.WaitForPendingFinalizers();

            long before = Status("VmRSS");
            long peak = before;
            bool resetWorked = TryResetPeak();
            using var done = new ManualResetEventSlim();
            var sampler = new Thread(() =>
            {
                // A fallback where the kernel's peak cannot be reset: the resident size sampled while reading.
                while (!done.IsSet)
                {
                    long rss = Status("VmRSS");
                    if (rss > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, rss);
                    Thread.Sleep(2);
                }
            }) { IsBackground = true };
            sampler.Start();
            var tensors = SafeTensors.Read(_path);
            done.Set();
            sampler.Join();
            long after = Status("VmRSS");
            if (resetWorked) peak = Math.Max(peak, Status("VmHWM"));
            try
            {
                double growth = (double)(peak - before) / size;
                _output.WriteLine($"file {size / 1e6:F0} MB; resident before {before / 1e6:F0} MB, peak while reading {peak / 1e6:F0} MB (+{growth:F2}x the file), after {after / 1e6:F0} MB; peak from {(resetWorked ? "VmHWM after a reset" : "sampling")}");
                Assert.Equal(Elements, tensors["big"].numel());
                Assert.Equal(1f, tensors["big"][Elements - 1].item<float>());
                Assert.True(growth > 0.5, $"the tensors' own memory was not seen (+{growth:F2}x): the measurement is broken");
                Assert.True(growth < 1.4, $"reading grew the peak resident memory by {growth:F2}x the file's size");
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }

        /// <summary>A field of /proc/self/status, in bytes.</summary>
        private static long Status(string field)
        {
            string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":"));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }

        /// <summary>Resets VmHWM to the current resident size (Linux: 5 written to clear_refs).</summary>
        private static bool TryResetPeak()
        {
            try
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }
    }
}
