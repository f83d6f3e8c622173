using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.IntegrationTests
{
    /// <summary>
    /// A new user's path, end to end (tests/e2e/user-path.sh): the library, the slim tool and the template packed into a
    /// local feed with one unique version; in an empty HOME, dotnet new lnsdsl, dotnet build (an LNS diagnostic raised by
    /// the template's .editorconfig), dotnet tool restore, dotnet lnsrun train and eval in the project, a version mismatch
    /// refused; outside any project, lnsrun backend install cpu and lnsrun train of a zoo model.
    /// </summary>
    [Collection("Console")]
    public sealed class UserPathTests : IDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly string _work = Path.Combine(Path.GetTempPath(), "lnsdsl-user-" + Guid.NewGuid().ToString("N"));

        public UserPathTests(ITestOutputHelper output) => _output = output;

        private static string Root([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

        [Fact]
        public void A_new_user_creates_builds_trains_and_evaluates_a_project_and_runs_the_zoo_with_an_installed_backend()
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root() };
            psi.ArgumentList.Add(Path.Combine(Root(), "tests", "e2e", "user-path.sh"));
            psi.ArgumentList.Add(_work);
            var log = new StringBuilder();
            using var p = new Process { StartInfo = psi };
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            p.Start();
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            if (!p.WaitForExit(30 * 60_000)) p.Kill(entireProcessTree: true);
            p.WaitForExit();
            string text = log.ToString();
            _output.WriteLine(text);
            Assert.True(p.ExitCode == 0, "the user path failed:\n" + text);
            Assert.Contains("LNS101 reported as an error", text);
            Assert.Contains("mismatch refused", text);
            Assert.Contains("backend cpu installed", text);
            Assert.Contains("the user path passed", text);
            Assert.Matches(@"validation loss [0-9.]+", text);
        }

        public void Dispose()
        {
            try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
