using System;
using System.IO;
using System.Runtime.CompilerServices;
using Xunit.Sdk;

namespace LnsDsl.Generators.Tests
{
    /// <summary>
    /// A minimal snapshot helper with Verify's conventions (Verify itself does not restore here):
    /// <c>_snapshots/{Class}.{Method}#{Name}.verified.{ext}</c> is committed; on a mismatch or a missing
    /// snapshot the actual text is written beside it as <c>.received.{ext}</c> (git-ignored) and the test fails.
    /// Set <c>LNSDSL_ACCEPT_SNAPSHOTS=1</c> to accept (write the verified file) instead; never in CI.
    /// Moving to Verify later is mechanical: same file names, same directory.
    /// </summary>
    public static class Snapshot
    {
        public const string AcceptVariable = "LNSDSL_ACCEPT_SNAPSHOTS";

        public static void Match(string actual, string name, string extension = "cs",
            [CallerFilePath] string callerFile = "", [CallerMemberName] string method = "")
        {
            string className = Path.GetFileNameWithoutExtension(callerFile);
            string directory = Path.Combine(Path.GetDirectoryName(callerFile)!, "_snapshots");
            Directory.CreateDirectory(directory);
            string stem = Path.Combine(directory, $"{className}.{method}#{name}");
            string verified = stem + ".verified." + extension;
            string received = stem + ".received." + extension;
            actual = Normalize(actual);

            bool accept = Environment.GetEnvironmentVariable(AcceptVariable) == "1"
                          && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
            if (File.Exists(verified) && Normalize(File.ReadAllText(verified)) == actual)
            {
                if (File.Exists(received)) File.Delete(received);
                return;
            }
            if (accept)
            {
                File.WriteAllText(verified, actual);
                if (File.Exists(received)) File.Delete(received);
                return;
            }
            File.WriteAllText(received, actual);
            string why = File.Exists(verified) ? "differs from its verified file" : "has no verified file yet";
            throw new XunitException($"Snapshot '{Path.GetFileName(stem)}' {why}.\n" +
                                     $"  received: {received}\n  verified: {verified}\n" +
                                     $"Compare them; if the change is intended, rerun with {AcceptVariable}=1 or rename received to verified.");
        }

        private static string Normalize(string text) => text.Replace("\r\n", "\n").TrimStart('\uFEFF');
    }
}
