using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.IntegrationTests
{
    /// <summary>
    /// A user's view: pack LnsDsl as a NuGet package, build samples/LnsDsl.Sample against it outside this
    /// repository (no Directory.Build.* of ours applies), and check what `dotnet build` prints and what the
    /// program does.
    /// </summary>
    [Collection("Console")] // it runs dotnet from PATH, which another test of that collection changes
    public sealed class SampleProjectTests : IDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly string _work = Path.Combine(Path.GetTempPath(), "lnsdsl-sample-" + Guid.NewGuid().ToString("N"));
        private readonly string _version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");

        public SampleProjectTests(ITestOutputHelper output) => _output = output;

        private static string Root([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

        [Fact]
        public void Dotnet_build_of_a_package_consumer_prints_the_warning_with_id_link_and_position()
        {
            string feed = Path.Combine(_work, "feed");
            string sample = Path.Combine(_work, "LnsDsl.Sample");
            var pack = Run("dotnet", $"pack \"{Path.Combine(Root(), "src", "LnsDsl", "LnsDsl.csproj")}\" -c Release -o \"{feed}\" -p:Version={_version} -nologo", Root());
            Assert.True(pack.Code == 0, "dotnet pack failed:\n" + pack.Output);

            Directory.CreateDirectory(sample);
            foreach (var file in Directory.GetFiles(Path.Combine(Root(), "samples", "LnsDsl.Sample")))
                File.Copy(file, Path.Combine(sample, Path.GetFileName(file)));
            File.WriteAllText(Path.Combine(sample, "nuget.config"),
                $"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration><packageSources><add key=\"lnsdsl-test\" value=\"{feed}\" /></packageSources></configuration>\n");

            var build = Run("dotnet", $"build -p:LnsDslVersion={_version} -nologo", sample);
            _output.WriteLine(build.Output);
            Assert.True(build.Code == 0, "dotnet build failed:\n" + build.Output);

            // Where the conflicting argument is in the sample's source.
            var lines = File.ReadAllLines(Path.Combine(sample, "Models.cs"));
            int line = Array.FindIndex(lines, l => l.Contains("Output = OutputInit.ScaledByDepth")) + 1;
            int column = lines[line - 1].IndexOf("Output", StringComparison.Ordinal) + 1;
            var warning = Regex.Match(build.Output, $@"Models\.cs\({line},{column}\): warning LNS101: (?<message>[^\n]*)\((?<link>https?://[^ )]+/LNS101\.md)\)");
            Assert.True(warning.Success, $"no LNS101 warning at Models.cs({line},{column}) in:\n{build.Output}");
            Assert.Contains("diminishes LNS's benefit", warning.Groups["message"].Value);
            Assert.DoesNotContain("error", build.Output.Split('\n').Where(l => l.Contains("LNS")).Aggregate("", (a, b) => a + b));

            var run = Run("dotnet", $"\"{Path.Combine(sample, "bin", "Debug", "net10.0", "LnsDsl.Sample.dll")}\"", sample);
            Assert.True(run.Code == 0, "the sample failed:\n" + run.Output);
            Assert.Contains("Conflicting: 12 blocks x 256 wide", run.Output);
            Assert.Contains("forward: tokens [2, 16] -> logits [2, 16, 8192]", run.Output);
        }

        private static (int Code, string Output) Run(string file, string arguments, string directory)
        {
            var psi = new ProcessStartInfo(file, arguments)
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            // The test host runs under `dotnet test`: do not leak its MSBuild/test-host settings into the child build.
            foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                                                               || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
                psi.Environment.Remove(key);
            psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            psi.Environment["DOTNET_NOLOGO"] = "1";
            using var process = Process.Start(psi)!;
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(600_000))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{file} {arguments} did not finish in 10 minutes");
            }
            return (process.ExitCode, stdout + stderr.Result);
        }

        public void Dispose()
        {
            try
            {
                if (Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
                // The unique test version must not accumulate in the NuGet cache.
                string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
                    : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
                string cached = Path.Combine(cache, "lnsdsl", _version);
                if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
