using System;
using System.Diagnostics;
using System.IO;

namespace LnsDsl.Tests
{
    /// <summary>Debian's Python (<c>/usr/bin/python3</c>, where python3-torch installs), run for the cross-checks against PyTorch.</summary>
    internal static class PythonProcess
    {
        public const string Executable = "/usr/bin/python3";

        /// <summary>torchrun's arguments to the interpreter. --redirects/--tee given explicitly: torchrun of PyTorch 1.13 on
        /// Python 3.11 fails on their default "0" (its Std flag parsing iterates an IntFlag, which no longer yields the
        /// zero member); 1 tees stdout.</summary>
        public const string Torchrun = "-m torch.distributed.run --redirects 1 --tee 1";

        /// <summary>A free loopback port for torchrun's rendezvous (<c>--master_port</c>).</summary>
        public static int FreePort()
        {
            var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }

        /// <summary>Whether the interpreter exists and imports <paramref name="modules"/> (e.g. "torch").</summary>
        public static bool Imports(string modules) => File.Exists(Executable) && Run($"-c \"import {modules}\"", 60).Code == 0;

        /// <summary>
        /// Whether a cross-check against <paramref name="modules"/> can run. Where they are missing: on a developer's
        /// machine the test says SKIPPED in its output and returns false (the caller returns); in CI (<c>CI=true</c>,
        /// where .ci/run installs python3-torch) the test FAILS instead, so a broken set-up never passes silently.
        /// </summary>
        public static bool Available(string modules, Xunit.Abstractions.ITestOutputHelper output, string check)
        {
            if (Imports(modules)) return true;
            string why = $"{Executable} cannot import {modules} (Debian: apt-get install python3-torch); {check} did not run";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                Xunit.Assert.Fail("CI=true: " + why);
            output.WriteLine("SKIPPED: " + why + ".");
            return false;
        }

        /// <summary>Runs the interpreter; a run longer than <paramref name="seconds"/> is killed and gives code -1.</summary>
        public static (int Code, string Output, string Errors) Run(string arguments, int seconds = 600)
        {
            var psi = new ProcessStartInfo(Executable, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            var errors = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(seconds * 1000))
            {
                p.Kill(entireProcessTree: true);
                return (-1, output.Result, $"python3 {arguments}: no exit within {seconds} s\n{errors.Result}");
            }
            p.WaitForExit();
            return (p.ExitCode, output.Result, errors.Result);
        }
    }
}
