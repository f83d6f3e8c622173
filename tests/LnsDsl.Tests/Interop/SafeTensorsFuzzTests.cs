using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LnsDsl.Interop;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static LnsDsl.Tests.SafeTensorsTestFiles;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>
    /// Thousands of deterministic mutations of valid files: every read either succeeds, with the shapes the
    /// (mutated) header declares, or throws <see cref="SafeTensorsFormatException"/>; never another exception.
    /// </summary>
    public sealed class SafeTensorsFuzzTests : IDisposable
    {
        private const int Mutations = 6000;
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-stf-" + Guid.NewGuid().ToString("N"));

        public SafeTensorsFuzzTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
        }

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Fact]
        public void Mutated_files_are_read_or_refused_with_the_format_exception_only()
        {
            var seeds = Seeds();
            var random = new Random(20240917);
            string path = Path.Combine(_dir, "mutant.safetensors");
            int read = 0, refused = 0;
            var problems = new Dictionary<string, int>();
            var failures = new List<string>();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < Mutations; i++)
            {
                byte[] seed = seeds[random.Next(seeds.Count)];
                var (what, mutant) = Mutate(seed, random);
                File.WriteAllBytes(path, mutant);
                try
                {
                    var tensors = SafeTensors.Read(path);
                    string? mismatch = CheckShapes(mutant, tensors);
                    foreach (var t in tensors.Values) t.Dispose();
                    if (mismatch is not null) failures.Add($"#{i} {what}: read, but {mismatch}");
                    read++;
                }
                catch (SafeTensorsFormatException e)
                {
                    refused++;
                    string key = Regex.Replace(e.Problem, @"[0-9]+|'[^']*'", "#");
                    key = key.Length > 60 ? key[..60] : key;
                    problems[key] = problems.GetValueOrDefault(key) + 1;
                }
                catch (Exception e)
                {
                    failures.Add($"#{i} {what}: {e.GetType().Name}: {e.Message}");
                }
            }
            _output.WriteLine($"{Mutations} mutations of {seeds.Count} files in {clock.Elapsed.TotalSeconds:F1} s: {read} read, {refused} refused, {failures.Count} other outcomes");
            foreach (var (problem, count) in problems.OrderByDescending(p => p.Value)) _output.WriteLine($"  {count,5}  {problem}");
            Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
            Assert.True(read > Mutations / 25, $"only {read} mutants were readable: the mutations are too destructive to test the success path");
            Assert.True(refused > Mutations / 4, $"only {refused} mutants were refused");
        }

        /// <summary>Valid files: every dtype, a scalar, empty tensors, metadata and none, the writer's and a hand-assembled layout.</summary>
        private List<byte[]> Seeds()
        {
            var files = new List<byte[]>();
            void Add(Dictionary<string, Tensor> tensors, Dictionary<string, string>? metadata)
            {
                string path = Path.Combine(_dir, "seed.safetensors");
                SafeTensors.Write(path, tensors, metadata);
                files.Add(File.ReadAllBytes(path));
            }
            Add(OneOfEach(seed: 3), new Dictionary<string, string> { ["format"] = "pt" });
            Add(new Dictionary<string, Tensor> { ["w"] = torch.randn(4, 2), ["b"] = torch.zeros(2, ScalarType.BFloat16) }, null);
            Add(new Dictionary<string, Tensor> { ["s"] = torch.tensor(1L), ["e"] = torch.empty(new long[] { 3, 0 }, ScalarType.Float16), ["m"] = torch.ones(new long[] { 2, 1, 3 }, ScalarType.Bool) }, null);
            files.Add(Assemble("{\"a\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[4,8]}}",
                new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
            return files;
        }

        private static readonly string[] Numbers = { "0", "1", "2", "3", "4", "7", "8", "16", "-1", "1.5", "1e3", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999999" };
        private static readonly string Characters = "{}[]\",:0123456789-.e FIUB_\\";

        private static (string What, byte[] File) Mutate(byte[] seed, Random r)
        {
            int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(seed);
            string json = Encoding.UTF8.GetString(seed, 8, n);
            byte[] data = seed[(8 + n)..];
            switch (r.Next(11))
            {
                case 0:
                {
                    var file = (byte[])seed.Clone();
                    int at = 8 + r.Next(n);
                    file[at] ^= (byte)(1 << r.Next(8));
                    return ($"flip a bit of header byte {at}", file);
                }
                case 1:
                {
                    var file = (byte[])seed.Clone();
                    int at = 8 + r.Next(n);
                    file[at] = r.Next(4) == 0 ? (byte)r.Next(256) : (byte)Characters[r.Next(Characters.Length)];
                    return ($"replace header byte {at}", file);
                }
                case 2:
                case 3:
                {
                    // A number of the JSON text replaced (the file's length prefix fixed up).
                    var numbers = Regex.Matches(json, @"-?[0-9]+");
                    var m = numbers[r.Next(numbers.Count)];
                    string replacement = r.Next(2) == 0 ? Numbers[r.Next(Numbers.Length)] : (long.Parse(m.Value) + r.Next(-9, 10)).ToString();
                    return ($"number {m.Value} at {m.Index} -> {replacement}", Assemble(json[..m.Index] + replacement + json[(m.Index + m.Length)..], data));
                }
                case 4:
                {
                    int length = r.Next(seed.Length);
                    return ($"truncate to {length}", seed[..length]);
                }
                case 5:
                {
                    var file = (byte[])seed.Clone();
                    ulong prefix = r.Next(3) switch
                    {
                        0 => (ulong)(n + r.Next(-16, 17)),
                        1 => (ulong)r.NextInt64(),
                        _ => 1UL << r.Next(64),
                    };
                    BinaryPrimitives.WriteUInt64LittleEndian(file, prefix);
                    return ($"length prefix {n} -> {prefix}", file);
                }
                case 6:
                {
                    // An entry duplicated, under its own name or another's.
                    using var doc = JsonDocument.Parse(json);
                    var entries = doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
                    var entry = entries[r.Next(entries.Count)];
                    string name = r.Next(2) == 0 ? entry.Name : entry.Name + "_copy";
                    string text = json.TrimEnd();
                    string mutated = text[..^1] + "," + JsonSerializer.Serialize(name) + ":" + entry.Value.GetRawText() + "}";
                    return ($"duplicate entry {entry.Name} as {name}", Assemble(mutated, data));
                }
                case 7:
                {
                    int count = 1 + r.Next(16);
                    var extra = new byte[count];
                    r.NextBytes(extra);
                    return ($"append {count} bytes", seed.Concat(extra).ToArray());
                }
                case 8:
                {
                    // A span of the header removed (the prefix fixed up, or not).
                    int at = r.Next(n), length = 1 + r.Next(Math.Min(12, n - at));
                    byte[] header = seed[8..(8 + n)];
                    byte[] cut = header[..at].Concat(header[(at + length)..]).ToArray();
                    return ($"cut {length} header bytes at {at}", Assemble(cut, data, r.Next(2) == 0 ? (ulong)cut.Length : (ulong)n));
                }
                case 10:
                {
                    // Whitespace after a structural character, the prefix fixed up: still a valid file, unless it breaks a name.
                    var marks = Regex.Matches(json, "[,:\\[{]");
                    var m = marks[r.Next(marks.Count)];
                    string space = new[] { " ", "\n", "\t", "  \r\n" }[r.Next(4)];
                    return ($"whitespace after {m.Value} at {m.Index}", Assemble(json[..(m.Index + 1)] + space + json[(m.Index + 1)..], data));
                }
                default:
                {
                    // A dtype or a field name replaced.
                    var names = Regex.Matches(json, "\"(F32|F16|BF16|F64|I64|I32|I16|I8|U8|BOOL|dtype|shape|data_offsets|__metadata__)\"");
                    if (names.Count == 0) return ("unchanged", seed);
                    var m = names[r.Next(names.Count)];
                    string[] choices = { "\"F32\"", "\"F16\"", "\"BF16\"", "\"F64\"", "\"I64\"", "\"I8\"", "\"U8\"", "\"BOOL\"", "\"U16\"", "\"C64\"", "\"F8_E5M2\"", "\"F4\"", "\"X\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "1", "null", "[]", "{}" };
                    string replacement = choices[r.Next(choices.Length)];
                    return ($"{m.Value} at {m.Index} -> {replacement}", Assemble(json[..m.Index] + replacement + json[(m.Index + m.Length)..], data));
                }
            }
        }

        /// <summary>Null when each tensor's shape is the one the header declares, read independently of the library.</summary>
        private static string? CheckShapes(byte[] file, IReadOnlyDictionary<string, Tensor> tensors)
        {
            int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
            using var doc = JsonDocument.Parse(file.AsMemory(8, n));
            var declared = doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
            if (declared.Count != tensors.Count) return $"{tensors.Count} tensors read, {declared.Count} declared";
            foreach (var p in declared)
            {
                long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (!tensors.TryGetValue(p.Name, out var t)) return $"'{p.Name}' is missing";
                if (!t.shape.SequenceEqual(shape)) return $"'{p.Name}' has shape [{string.Join(",", t.shape)}], declared [{string.Join(",", shape)}]";
            }
            return null;
        }
    }
}
