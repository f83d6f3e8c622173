using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace LnsDsl.Interop
{
    public static partial class SafeTensors
    {
        /// <summary>The single-file checkpoint's name.</summary>
        public const string SingleFileName = "model.safetensors";

        /// <summary>The sharded checkpoint's index: <c>{"metadata": {"total_size": BYTES}, "weight_map": {"TENSOR": "SHARD FILE"}}</c>.</summary>
        public const string IndexFileName = "model.safetensors.index.json";

        /// <summary>The name of shard <paramref name="number"/> (from 1) of <paramref name="count"/>: <c>model-00001-of-00003.safetensors</c>.</summary>
        public static string ShardFileName(int number, int count) => $"model-{number:D5}-of-{count:D5}.safetensors";

        private static readonly Regex ShardName = new(@"^model-\d{5}-of-\d{5}\.safetensors$", RegexOptions.CultureInvariant);

        /// <summary>
        /// A checkpoint directory's tensors: <c>model.safetensors</c> where it exists (as Hugging Face transformers
        /// prefers it), else the index and every shard it names. A shard missing from disk, a tensor the index
        /// places in a shard that lacks it, and a tensor in a shard the index does not place there are refused.
        /// Shards are read in the order of their file names, each in the order of its data offsets.
        /// </summary>
        public static IReadOnlyDictionary<string, Tensor> ReadCheckpoint(string directory)
        {
            using var checkpoint = OpenCheckpoint(directory);
            var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                foreach (string name in checkpoint.Names) result.Add(name, checkpoint.Read(name));
                return result;
            }
            catch
            {
                foreach (var t in result.Values) t.Dispose();
                throw;
            }
        }

        /// <summary>
        /// A checkpoint directory opened for reading one tensor at a time (<see cref="SafeTensorsCheckpoint.Read"/>):
        /// the same checks as <see cref="ReadCheckpoint"/>, every header read first, no tensor data until asked for.
        /// Loading a model tensor by tensor this way holds at most one tensor besides the model.
        /// </summary>
        public static SafeTensorsCheckpoint OpenCheckpoint(string directory)
        {
            ArgumentNullException.ThrowIfNull(directory);
            if (!Directory.Exists(directory)) throw new UserError($"{directory}: no such checkpoint directory");
            string single = Path.Combine(directory, SingleFileName);
            if (File.Exists(single)) return new SafeTensorsCheckpoint(new[] { (single, ReadHeader(single)) });
            string index = Path.Combine(directory, IndexFileName);
            if (!File.Exists(index)) throw new UserError($"{directory}: no {SingleFileName} or {IndexFileName}");

            var weightMap = ReadIndex(index);
            var shards = weightMap.Values.Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal).ToList();
            foreach (string shard in shards)
                if (!File.Exists(Path.Combine(directory, shard)))
                    throw new SafeTensorsFormatException(index, null, $"shard '{shard}' named by the index is missing from {directory}");

            // Every header first (cheap), so that a mismatch is found before any tensor is loaded.
            var placed = new HashSet<string>(StringComparer.Ordinal);
            var headers = new List<(string, SafeTensorsHeader)>();
            foreach (string shard in shards)
            {
                string path = Path.Combine(directory, shard);
                var header = ReadHeader(path);
                headers.Add((path, header));
                foreach (var entry in header.Entries)
                {
                    if (!weightMap.TryGetValue(entry.Name, out string? expected))
                        throw new SafeTensorsFormatException(path, entry.Name, $"the shard holds it but the index ({IndexFileName}) does not name it");
                    if (expected != shard)
                        throw new SafeTensorsFormatException(path, entry.Name, $"the shard holds it but the index places it in '{expected}'");
                    placed.Add(entry.Name);
                }
            }
            foreach (var (name, shard) in weightMap)
                if (!placed.Contains(name))
                    throw new SafeTensorsFormatException(index, name, $"the index places it in '{shard}', which does not hold it");
            return new SafeTensorsCheckpoint(headers);
        }

        /// <summary>
        /// Writes a checkpoint directory: <c>model.safetensors</c> when the tensors' bytes fit in
        /// <paramref name="maxShardBytes"/>, else shards of at most that many bytes of tensor data (a larger tensor gets
        /// a shard of its own), split in the dictionary's order, plus <c>model.safetensors.index.json</c>. Each shard
        /// carries <paramref name="metadata"/> (Hugging Face writes <c>{"format": "pt"}</c>).
        /// Nothing is replaced until every new file is complete: they are written to temporary names and moved in,
        /// the index last, then the previous checkpoint's files that remain are removed. A failure while writing
        /// leaves the previous checkpoint as it was; an interrupted switch can leave it unreadable (its index removed),
        /// never a mix of old and new files.
        /// </summary>
        public static void WriteCheckpoint(string directory, IReadOnlyDictionary<string, Tensor> tensors, long maxShardBytes = 5_000_000_000,
            IReadOnlyDictionary<string, string>? metadata = null)
        {
            ArgumentNullException.ThrowIfNull(directory);
            ArgumentNullException.ThrowIfNull(tensors);
            if (maxShardBytes <= 0) throw new UserError($"the shard size limit must be positive, not {maxShardBytes}");
            var plan = Plan(tensors, metadata);
            var shards = new List<List<Planned>> { new() };
            long size = 0;
            foreach (var p in plan)
            {
                if (shards[^1].Count > 0 && size + p.Bytes > maxShardBytes)
                {
                    shards.Add(new List<Planned>());
                    size = 0;
                }
                shards[^1].Add(p);
                size += p.Bytes;
            }
            Directory.CreateDirectory(directory);
            string single = Path.Combine(directory, SingleFileName);
            string index = Path.Combine(directory, IndexFileName);

            if (shards.Count == 1)
            {
                AtomicFile.Write(single, stream => WriteTo(stream, plan, tensors, metadata));
                DeleteIfExists(index);
                RemoveStaleShards(directory, keep: new HashSet<string>());
                return;
            }

            var names = Enumerable.Range(1, shards.Count).Select(i => ShardFileName(i, shards.Count)).ToList();
            string temp = Path.Combine(directory, ".safetensors-tmp-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(temp);
            try
            {
                for (int i = 0; i < shards.Count; i++)
                    WriteDurably(Path.Combine(temp, names[i]), stream => WriteTo(stream, shards[i], tensors, metadata));
                WriteDurably(Path.Combine(temp, IndexFileName), stream => WriteIndex(stream, shards, names));

                // The switch: the old index goes first, so that no index ever names a mix of old and new shards;
                // the new index comes last; an old single file is removed only once the new index is in place
                // (until then readers that prefer it read the old checkpoint whole).
                DeleteIfExists(index);
                foreach (string name in names) File.Move(Path.Combine(temp, name), Path.Combine(directory, name), overwrite: true);
                File.Move(Path.Combine(temp, IndexFileName), index, overwrite: true);
                DeleteIfExists(single);
                RemoveStaleShards(directory, keep: names.ToHashSet(StringComparer.Ordinal));
            }
            finally
            {
                if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            }
        }

        private static void WriteIndex(Stream stream, List<List<Planned>> shards, List<string> names)
        {
            using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            writer.WriteStartObject();
            writer.WriteStartObject("metadata");
            writer.WriteNumber("total_size", shards.Sum(s => s.Sum(p => p.Bytes)));
            writer.WriteEndObject();
            writer.WriteStartObject("weight_map");
            for (int i = 0; i < shards.Count; i++)
                foreach (var p in shards[i]) writer.WriteString(p.Name, names[i]);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        private static void WriteDurably(string path, Action<Stream> write)
        {
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            write(stream);
            stream.Flush(flushToDisk: true);
        }

        private static void DeleteIfExists(string path)
        {
            if (File.Exists(path)) File.Delete(path);
        }

        private static void RemoveStaleShards(string directory, HashSet<string> keep)
        {
            foreach (string path in Directory.EnumerateFiles(directory, "model-*-of-*.safetensors"))
            {
                string name = Path.GetFileName(path);
                if (ShardName.IsMatch(name) && !keep.Contains(name)) File.Delete(path);
            }
        }

        /// <summary>The index's weight map, checked: an object of tensor names to plain file names, each name once.</summary>
        private static Dictionary<string, string> ReadIndex(string index)
        {
            byte[] bytes = File.ReadAllBytes(index); // a small JSON file, not tensor data
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                using var doc = JsonDocument.Parse(bytes);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException(index, null, "the index is not a JSON object");
                if (!doc.RootElement.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
                    throw new SafeTensorsFormatException(index, null, "the index has no \"weight_map\" object");
                foreach (var property in weightMap.EnumerateObject())
                {
                    if (property.Value.ValueKind != JsonValueKind.String)
                        throw new SafeTensorsFormatException(index, property.Name, "its shard in \"weight_map\" is not a string");
                    string shard = property.Value.GetString()!;
                    if (shard.Length == 0 || shard is "." or ".." || shard.IndexOfAny(new[] { '/', '\\', '\0' }) >= 0 || Path.IsPathRooted(shard))
                        throw new SafeTensorsFormatException(index, property.Name, $"its shard '{shard}' is not a file name in the checkpoint directory");
                    if (!map.TryAdd(property.Name, shard))
                        throw new SafeTensorsFormatException(index, property.Name, "the name appears twice in \"weight_map\"");
                }
            }
            catch (JsonException e)
            {
                throw new SafeTensorsFormatException(index, null, $"the index is not valid JSON ({e.Message})");
            }
            catch (InvalidOperationException e)
            {
                throw new SafeTensorsFormatException(index, null, $"the index is not valid JSON ({e.Message})");
            }
            if (map.Count == 0) throw new SafeTensorsFormatException(index, null, "the index's \"weight_map\" names no tensor");
            return map;
        }
    }
}
