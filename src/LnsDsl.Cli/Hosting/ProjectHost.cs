using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using LnsDsl.Data;

namespace LnsDsl.Cli.Hosting
{
    /// <summary>
    /// The slim tool (the <c>LnsDsl.Runner</c> package, built with <c>-p:LnsTorchBackend=none</c>: no LibTorch inside) in
    /// the way <c>dotnet ef</c> works: in a directory with a project (or <c>--project PATH</c>) every verb first builds the
    /// project (<c>dotnet build</c>, Release unless <c>--configuration</c>), checks that it was built against this tool's
    /// LnsDsl version, and runs the verb with the project's models (<c>--assembly</c>) and the LibTorch of the backend
    /// package the project references (its build output's native directory, put on the native library search path of a
    /// child process). Outside a project it uses a backend restored by <c>lnsrun backend install cpu|cuda</c> into the
    /// LnsDsl cache through the user's own NuGet configuration.
    /// </summary>
    public static class ProjectHost
    {
        /// <summary>Set in the child process: the native search path is in place, run the verb.</summary>
        public const string HostedVariable = "LNSDSL_HOSTED";

        /// <summary>The checkpoint and spec format this tool reads and writes: runs written by any LnsDsl version with the
        /// same format load here (state.json and config.json carry the spec; fields added later default to "off").</summary>
        public const int CheckpointFormat = 1;

        /// <summary>The runtime identifier of LibTorch's native directory and backend packages (linux-x64, linux-arm64, osx-arm64, win-x64).</summary>
        private static string Rid => (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? "linux" : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "win")
            + "-" + (RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "x64");

        /// <summary>Verbs that read model metadata or text only: outside a project they run here, with no backend.</summary>
        private static readonly HashSet<string> WithoutLibTorch = new(StringComparer.Ordinal) { "list", "describe", "data", "import" };

        private static string LibraryPathVariable => RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? "LD_LIBRARY_PATH"
            : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "DYLD_LIBRARY_PATH" : "PATH";

        /// <summary>This tool's LnsDsl version (the library it carries), without the source revision.</summary>
        public static string Version => Informational(typeof(TransformerModule).Assembly.Location);

        private static string Informational(string assembly)
        {
            string? v = FileVersionInfo.GetVersionInfo(assembly).ProductVersion;
            if (string.IsNullOrEmpty(v)) return "unknown";
            int plus = v.IndexOf('+');
            return plus >= 0 ? v[..plus] : v;
        }

        /// <summary>The exit code when this process handled the command (built and ran the child, or a backend command),
        /// null when the verb should run here (the child, help, version).</summary>
        public static int? Run(string[] args)
        {
            if (Environment.GetEnvironmentVariable(HostedVariable) == "1") return null;
            if (args.Length == 0 || args[0] is "--help" or "help" or "--version" || args.Contains("--help")) return null;
            if (args[0] == "backend") return Backend(args.Skip(1).ToArray());

            var rest = args.ToList();
            for (int i = 0; i < rest.Count; i++) // --project=PATH, --configuration=NAME: as two arguments
                if (rest[i].StartsWith("--project=", StringComparison.Ordinal) || rest[i].StartsWith("--configuration=", StringComparison.Ordinal))
                {
                    int eq = rest[i].IndexOf('=');
                    rest.Insert(i + 1, rest[i][(eq + 1)..]);
                    rest[i] = rest[i][..eq];
                }
            string? project = Take(rest, "--project");
            string configuration = Take(rest, "--configuration") ?? Take(rest, "-c") ?? "Release";
            project ??= FindProject(Environment.CurrentDirectory);
            string nativeDirectory;
            if (project is not null)
            {
                var (targetPath, native) = Build(project, configuration);
                CheckVersion(project, Path.GetDirectoryName(targetPath)!);
                nativeDirectory = native;
                if (!rest.Contains("--assembly")) // the user's own --assembly wins
                {
                    rest.Add("--assembly");
                    rest.Add(targetPath);
                }
            }
            else
            {
                if (InstalledBackend() is null && WithoutLibTorch.Contains(args[0])) return null; // metadata only: run here
                nativeDirectory = InstalledBackend() ?? throw new UserError(
                    $"lnsrun {args[0]} needs LibTorch, and there is no project here to take it from (no .csproj in {Environment.CurrentDirectory}; --project PATH names one) " +
                    "and no backend installed: run 'lnsrun backend install cpu' (or cuda) once, or run lnsrun in a project made with 'dotnet new lnsdsl'");
            }
            return Child(rest, nativeDirectory);
        }

        private static string? Take(List<string> args, string flag)
        {
            int i = args.IndexOf(flag);
            if (i < 0) return null;
            if (i + 1 >= args.Count) throw new UserError($"{flag} needs a value");
            string value = args[i + 1];
            args.RemoveRange(i, 2);
            return value;
        }

        /// <summary>The one project file in <paramref name="directory"/>, null where there is none.</summary>
        public static string? FindProject(string directory)
        {
            var projects = Directory.GetFiles(directory, "*.csproj");
            return projects.Length switch
            {
                0 => null,
                1 => projects[0],
                _ => throw new UserError($"{directory} holds {projects.Length} projects ({string.Join(", ", projects.Select(Path.GetFileName))}); name one with --project PATH"),
            };
        }

        /// <summary>Builds the project; its output assembly and the LibTorch native directory of its output.</summary>
        private static (string TargetPath, string Native) Build(string project, string configuration)
        {
            if (Directory.Exists(project)) project = FindProject(project) ?? throw new UserError($"{project} holds no .csproj");
            if (!File.Exists(project)) throw new UserError($"project '{project}' does not exist");
            Console.Error.WriteLine($"lnsrun: building {Path.GetFileName(project)} ({configuration}) ...");
            var (code, _) = Dotnet(true, "build", project, "-c", configuration, "-nologo", "-v", "quiet", "-clp:NoSummary");
            if (code != 0) throw new UserError($"building {project} failed (dotnet build exited with {code}); fix the errors above and run lnsrun again", exitCode: code);
            var (queried, path) = Dotnet(false, "msbuild", project, "-getProperty:TargetPath", $"-p:Configuration={configuration}", "-nologo");
            string targetPath = path.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
            if (queried != 0 || targetPath.Length == 0)
                throw new UserError($"could not ask MSBuild for {Path.GetFileName(project)}'s output assembly (TargetPath){(targetPath.Length == 0 ? "; a project with several TargetFrameworks needs one: add -p:TargetFramework=net10.0 to its build or give it one TargetFramework" : "")}");
            if (!File.Exists(targetPath)) throw new UserError($"the build of {project} did not produce '{targetPath}'");
            string output = Path.GetDirectoryName(targetPath)!;
            // LibTorch under runtimes/RID/native, or in the output itself for a project built for one RuntimeIdentifier.
            string native = Path.Combine(output, "runtimes", Rid, "native");
            if (!HasLibTorch(native) && HasLibTorch(output)) native = output;
            if (!HasLibTorch(native))
                throw new UserError($"{Path.GetFileName(project)}'s build output has no LibTorch ({native}); reference a backend package (libtorch-cpu-{Rid}, or TorchSharp-cuda-linux) " +
                                    "and set <CopyLocalLockFileAssemblies>true</CopyLocalLockFileAssemblies>, as 'dotnet new lnsdsl' does");
            return (targetPath, native);
        }

        private static bool HasLibTorch(string directory)
            => Directory.Exists(directory) && Directory.EnumerateFiles(directory).Any(f => Path.GetFileName(f).Contains("torch_cpu", StringComparison.Ordinal) || Path.GetFileName(f).Contains("torch_cuda", StringComparison.Ordinal));

        /// <summary>A project built against another LnsDsl than this tool's is refused, naming both and the fix.</summary>
        private static void CheckVersion(string project, string output)
        {
            string library = Path.Combine(output, "LnsDsl.dll");
            if (!File.Exists(library)) throw new UserError($"{Path.GetFileName(project)} does not reference LnsDsl (no LnsDsl.dll in {output}); add <PackageReference Include=\"LnsDsl\" Version=\"{Version}\" />");
            string theirs = Informational(library);
            if (theirs != Version)
                throw new UserError($"{Path.GetFileName(project)} is built against LnsDsl {theirs}, this lnsrun is LnsDsl.Runner {Version}; they must be one version " +
                                    $"(the generated code calls the library it was generated for). Either update the tool, 'dotnet tool update LnsDsl.Runner --version {theirs}' " +
                                    $"(in .config/dotnet-tools.json for a local tool), or the project, <PackageReference Include=\"LnsDsl\" Version=\"{Version}\" />. " +
                                    $"Runs and checkpoints are not affected: every LnsDsl version of checkpoint format {CheckpointFormat} reads them.");
        }

        /// <summary>The native directory of the backend <c>backend install</c> restored, or null.</summary>
        public static string? InstalledBackend()
        {
            foreach (var kind in new[] { "cuda", "cpu" })
            {
                string native = Path.Combine(BackendDirectory(kind), "bin", "runtimes", Rid, "native");
                if (HasLibTorch(native)) return native;
            }
            return null;
        }

        private static string BackendDirectory(string kind) => Path.Combine(Corpus.CacheDirectory, "backends", Version, kind);

        /// <summary><c>lnsrun backend install cpu|cuda</c>: a generated project that references the backend, restored and built
        /// through the user's NuGet configuration into the LnsDsl cache; <c>lnsrun backend</c>: where it is.</summary>
        private static int Backend(string[] args)
        {
            if (args.Length > 0 && args[0] is "--help" or "help")
            {
                Console.WriteLine("lnsrun backend install cpu|cuda   restore LibTorch for use outside a project (through your NuGet configuration)\nlnsrun backend                    where the installed backend is");
                return 0;
            }
            if (args.Length == 0 || args[0] is "status")
            {
                string? installed = InstalledBackend();
                Console.WriteLine(installed is null ? "no backend installed; run 'lnsrun backend install cpu' (or cuda)" : $"backend: {installed}");
                return installed is null ? 1 : 0;
            }
            if (args[0] != "install" || args.Length < 2 || args[1] is not ("cpu" or "cuda"))
                throw new UserError("usage: lnsrun backend install cpu|cuda   (or: lnsrun backend, to see the installed one)");
            string kind = args[1];
            string dir = BackendDirectory(kind);
            Directory.CreateDirectory(dir);
            string backendPackage = kind == "cpu"
                ? $"<PackageReference Include=\"libtorch-cpu-{Rid}\" Version=\"{LibTorchVersion}\" />"
                : $"<PackageReference Include=\"TorchSharp-cuda-{(RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "windows" : "linux")}\" Version=\"{TorchSharpVersion}\" />";
            File.WriteAllText(Path.Combine(dir, "backend.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <!-- Generated by lnsrun backend install {kind}: the LibTorch that lnsrun uses outside a project. -->
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <OutputPath>bin</OutputPath>
                    <AppendTargetFrameworkToOutputPath>false</AppendTargetFrameworkToOutputPath>
                    <CopyLocalLockFileAssemblies>true</CopyLocalLockFileAssemblies>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="LnsDsl" Version="{Version}" />
                    {backendPackage}
                  </ItemGroup>
                </Project>
                """);
            // Restored with the NuGet configuration of the directory lnsrun runs in (a private feed configured there counts),
            // not only the cache directory's own (the user's and machine's).
            string? config = NearestNuGetConfig(Environment.CurrentDirectory);
            Console.Error.WriteLine($"lnsrun: restoring the {kind} backend (LibTorch {LibTorchVersion}) through {(config ?? "your NuGet configuration")} into {dir} ...");
            var restore = new List<string> { "restore", Path.Combine(dir, "backend.csproj"), "-v", "quiet" };
            if (config is not null) { restore.Add("--configfile"); restore.Add(config); }
            var (code, _) = Dotnet(true, restore.ToArray());
            if (code == 0) (code, _) = Dotnet(true, "build", Path.Combine(dir, "backend.csproj"), "-c", "Release", "--no-restore", "-nologo", "-v", "quiet", "-clp:NoSummary");
            if (code != 0) throw new UserError($"restoring the {kind} backend failed (dotnet build exited with {code}; see above): is the package source reachable?", exitCode: code);
            string native = Path.Combine(dir, "bin", "runtimes", Rid, "native");
            if (!HasLibTorch(native)) throw new UserError($"the {kind} backend restored, but {native} holds no LibTorch");
            Console.WriteLine($"backend {kind} installed: {native}");
            return 0;
        }

        /// <summary>The nuget.config nearest to <paramref name="directory"/> (it or a parent), as NuGet would find it for a project there.</summary>
        private static string? NearestNuGetConfig(string directory)
        {
            for (var d = new DirectoryInfo(directory); d is not null; d = d.Parent)
                foreach (var name in new[] { "nuget.config", "NuGet.config", "NuGet.Config" })
                    if (File.Exists(Path.Combine(d.FullName, name))) return Path.Combine(d.FullName, name);
            return null;
        }

        /// <summary>The TorchSharp and LibTorch versions this tool was built with (the backend must match them).</summary>
        public static string TorchSharpVersion => typeof(TorchSharp.torch).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.107.0";
        public const string LibTorchVersion = "2.10.0";

        /// <summary>Runs this tool again with the backend's natives on the library search path; its exit code.</summary>
        private static int Child(List<string> args, string nativeDirectory)
        {
            string self = typeof(ProjectHost).Assembly.Location;
            var info = new ProcessStartInfo("dotnet") { UseShellExecute = false };
            info.ArgumentList.Add(self);
            foreach (var a in args) info.ArgumentList.Add(a);
            string previous = Environment.GetEnvironmentVariable(LibraryPathVariable) ?? "";
            info.Environment[LibraryPathVariable] = nativeDirectory + (previous.Length > 0 ? Path.PathSeparator + previous : "");
            info.Environment[HostedVariable] = "1";
            using var process = Start(info);
            // Ctrl+C reaches the child through the terminal (it checkpoints and stops): this process waits for it and
            // returns its exit code. SIGTERM and SIGHUP (kill, timeout, a scheduler) are passed on to the child.
            ConsoleCancelEventHandler keep = (_, e) => e.Cancel = true;
            Console.CancelKeyPress += keep;
            var forwarded = new List<PosixSignalRegistration>();
            if (!OperatingSystem.IsWindows())
                foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGHUP })
                    forwarded.Add(PosixSignalRegistration.Create(signal, context =>
                    {
                        context.Cancel = true;
                        try { Process.Start("kill", $"-s {(signal == PosixSignal.SIGTERM ? "TERM" : "HUP")} {process.Id}")?.WaitForExit(); } catch (System.ComponentModel.Win32Exception) { process.Kill(); }
                    }));
            try
            {
                process.WaitForExit();
                return process.ExitCode;
            }
            finally
            {
                Console.CancelKeyPress -= keep;
                foreach (var r in forwarded) r.Dispose();
            }
        }

        private static Process Start(ProcessStartInfo info)
        {
            try { return Process.Start(info) ?? throw new UserError("could not start dotnet; is the .NET SDK on the PATH?"); }
            catch (System.ComponentModel.Win32Exception e) { throw new UserError($"could not start {info.FileName} ({e.Message}); is the .NET SDK on the PATH?"); }
        }

        /// <summary>Runs <c>dotnet ARGS</c>: its output shown (<paramref name="show"/>) or captured.</summary>
        private static (int Code, string Output) Dotnet(bool show, params string[] args)
        {
            var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = !show };
            foreach (var a in args) info.ArgumentList.Add(a);
            using var process = Start(info);
            string output = show ? "" : process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
    }
}
