using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Training
{
    /// <summary>What a checkpoint records besides the tensors.</summary>
    public sealed record CheckpointState
    {
        public int Step { get; init; }
        public string Model { get; init; } = "";
        public string Architecture { get; init; } = "";
        public string Tokenizer { get; init; } = "";
        public string DataFingerprint { get; init; } = "";
        public string TorchRngState { get; init; } = "";
        public TrainOptions Options { get; init; } = new();
        public Dictionary<string, string> Checksums { get; init; } = new();
    }

    /// <summary>
    /// Checkpoints are directories <c>checkpoints/step-NNNNNNN</c> holding <c>model.bin</c>, <c>optimizer.bin</c>,
    /// <c>tokenizer.json</c> and <c>state.json</c> (step, RNG states, options, SHA-256 of each file). A checkpoint is
    /// written into a temporary directory and renamed into place, so a crash mid-write leaves the previous one
    /// intact; a checksum mismatch is reported, never loaded.
    /// </summary>
    public static class Checkpoint
    {
        public const string Directory = "checkpoints";

        /// <summary>A fingerprint of the architecture: a checkpoint only loads into the same one.</summary>
        public static string ArchitectureOf(ModelSpec spec)
            => $"{spec.Name}: {spec.Layers}x{spec.Hidden}, heads {spec.Heads}/{spec.KvHeads}, ffn {spec.FeedForward} {spec.Activation}, vocab {spec.Vocab}, {spec.PlacementLabel}, {spec.NormType}, {spec.ParameterCount} parameters";

        public static string Save(string runDirectory, int step, TransformerModule model, TorchSharp.Modules.OptimizerHelper optimizer,
            ITextTokenizer tokenizer, CheckpointState state, int keep)
        {
            string root = Path.Combine(runDirectory, Directory);
            System.IO.Directory.CreateDirectory(root);
            string final = Path.Combine(root, $"step-{step:D7}");
            string temp = Path.Combine(root, $".step-{step:D7}.partial-{Guid.NewGuid():N}");
            System.IO.Directory.CreateDirectory(temp);
            try
            {
                model.save(Path.Combine(temp, "model.bin"));
                optimizer.save_state_dict(Path.Combine(temp, "optimizer.bin"));
                Tokenizers.Save(tokenizer, Path.Combine(temp, "tokenizer.json"));
                var checksums = new[] { "model.bin", "optimizer.bin", "tokenizer.json" }.ToDictionary(f => f, f => Sha(Path.Combine(temp, f)));
                File.WriteAllText(Path.Combine(temp, "state.json"), JsonSerializer.Serialize(state with { Step = step, Checksums = checksums }, Json));
                if (System.IO.Directory.Exists(final)) System.IO.Directory.Delete(final, recursive: true);
                System.IO.Directory.Move(temp, final);
            }
            finally
            {
                if (System.IO.Directory.Exists(temp)) System.IO.Directory.Delete(temp, recursive: true);
            }
            foreach (var old in List(runDirectory).SkipLast(Math.Max(1, keep)))
                System.IO.Directory.Delete(old, recursive: true);
            return final;
        }

        /// <summary>The complete checkpoints of a run, oldest first (partial ones are ignored).</summary>
        public static IReadOnlyList<string> List(string runDirectory)
        {
            string root = Path.Combine(runDirectory, Directory);
            if (!System.IO.Directory.Exists(root)) return Array.Empty<string>();
            return System.IO.Directory.GetDirectories(root, "step-*").Where(d => File.Exists(Path.Combine(d, "state.json")))
                .OrderBy(d => d, StringComparer.Ordinal).ToList();
        }

        /// <summary>A checkpoint directory from a path that is either one, or a run directory (its latest).</summary>
        public static string Resolve(string path)
        {
            if (File.Exists(Path.Combine(path, "state.json"))) return path;
            if (System.IO.Directory.Exists(path))
            {
                var all = List(path);
                if (all.Count > 0) return all[^1];
                throw new UserError($"'{path}' holds no complete checkpoint (looked for {Path.Combine(path, Directory, "step-*/state.json")})");
            }
            throw new UserError($"checkpoint '{path}' does not exist; give a run directory or one of its checkpoints/step-* directories");
        }

        /// <summary>Reads and verifies a checkpoint's state and files.</summary>
        public static CheckpointState ReadState(string checkpoint)
        {
            CheckpointState? state;
            try { state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(Path.Combine(checkpoint, "state.json")), Json); }
            catch (JsonException e) { throw new UserError($"checkpoint '{checkpoint}' is corrupt: state.json is not valid ({e.Message})"); }
            if (state is null) throw new UserError($"checkpoint '{checkpoint}' is corrupt: state.json is empty");
            foreach (var (file, sha) in state.Checksums)
            {
                string path = Path.Combine(checkpoint, file);
                if (!File.Exists(path)) throw new UserError($"checkpoint '{checkpoint}' is incomplete: {file} is missing");
                if (Sha(path) != sha) throw new UserError($"checkpoint '{checkpoint}' is corrupt: {file} does not match its checksum");
            }
            return state;
        }

        /// <summary>Loads the weights into <paramref name="model"/> after checking the architecture matches.</summary>
        public static CheckpointState LoadModel(string checkpoint, TransformerModule model)
        {
            var state = ReadState(checkpoint);
            string expected = ArchitectureOf(model.Spec);
            if (state.Architecture != expected)
                throw new UserError($"checkpoint '{checkpoint}' is of another architecture:\n  checkpoint: {state.Architecture}\n  model:      {expected}\nload it with '{state.Model}'");
            try { model.load(Path.Combine(checkpoint, "model.bin")); }
            catch (Exception e) when (e is not UserError) { throw new UserError($"checkpoint '{checkpoint}': model.bin could not be loaded ({e.Message})"); }
            return state;
        }

        public static string Sha(string path)
        {
            using var stream = File.OpenRead(path);
            return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        }

        public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };
    }
}
