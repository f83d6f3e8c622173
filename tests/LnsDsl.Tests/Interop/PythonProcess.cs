using System.Diagnostics;
using System.IO;

namespace LnsDsl.Tests
{
    /// <summary>Debian's Python (<c>/usr/bin/python3</c>, where python3-torch installs), run for the cross-checks against PyTorch.</summary>
    internal static class PythonProcess
    {
        public const string Executable = "/usr/bin/python3";

        /// <summary>Whether the interpreter exists and imports <paramref name="modules"/> (e.g. "torch").</summary>
        public static bool Imports(string modules) => File.Exists(Executable) && Run($"-c \"import {modules}\"", 60).Code == 0;

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
