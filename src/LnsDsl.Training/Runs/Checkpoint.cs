using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;
using LnsDsl.Data;
using LnsDsl.Training;

namespace LnsDsl.Runs
{
    /// <summary>What a checkpoint records besides the tensors (<c>state.json</c>).</summary>
    public sealed record CheckpointState
    {
        /// <summary>The layout of this record: 2 stores the architecture as <see cref="Spec"/>; 0 or absent (the first
        /// format) stored only the one-line <see cref="Architecture"/>, which was compared as a string.</summary>
        public int Format { get; init; }
        public int Step { get; init; }
        /// <summary>The model's class name.</summary>
        public string Model { get; init; } = "";
        /// <summary>The resolved architecture, compared field by field with the model it is loaded into.</summary>
        public ModelSpec? Spec { get; init; }
        /// <summary>A one-line description for people; never compared (format 2).</summary>
        public string Architecture { get; init; } = "";
        /// <summary>What the run trained on, compared field by field on resume.</summary>
        public DataIdentity? Data { get; init; }
        /// <summary>The tokenizer's name (format 0; <see cref="Data"/> has it in format 2).</summary>
        public string Tokenizer { get; init; } = "";
        /// <summary>The token cache directory (format 0; <see cref="Data"/> replaces it in format 2).</summary>
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

        /// <summary>The current layout of <c>state.json</c>.</summary>
        public const int CurrentFormat = 2;

        /// <summary>The state a checkpoint of <paramref name="spec"/> records about its architecture.</summary>
        public static CheckpointState For(ModelSpec spec)
            => new() { Format = CurrentFormat, Model = spec.Name, Spec = spec, Architecture = Describe(spec) };

        /// <summary>The one-line description stored for people (never compared).</summary>
        public static string Describe(ModelSpec spec)
            => $"{spec.Name}: {spec.Layers}x{spec.Hidden}, heads {spec.Heads}/{spec.KvHeads}, ffn {spec.FeedForward} {spec.Activation}, vocab {spec.Vocab}, {spec.PlacementLabel}, {spec.NormType}, {spec.ParameterCount} parameters";

        /// <summary>
        /// The string the first checkpoint format stored and compared (kept only to read those checkpoints). Its
        /// placement words are frozen here as they were, so that later rewording of labels does not break them.
        /// </summary>
        public static string LegacyArchitectureString(ModelSpec spec)
        {
            string placement = spec.Norm switch
            {
                Kind.Pre => "Pre-LN",
                Kind.Post => "Post-LN",
                Kind.Mix => $"Mix-LN (k={spec.PostLayers})",
                Kind.Peri => "Peri-LN",
                Kind.DeepNorm => "DeepNorm",
                _ => spec.Norm.ToString(),
            };
            placement += spec.Scale switch { ScaleRule.InvSqrtDepth => " + LNS", ScaleRule.InvDepth => " + 1/l", _ => "" };
            if (spec.LayerScale) placement += " + LayerScale";
            return $"{spec.Name}: {spec.Layers}x{spec.Hidden}, heads {spec.Heads}/{spec.KvHeads}, ffn {spec.FeedForward} {spec.Activation}, vocab {spec.Vocab}, {placement}, {spec.NormType}, {spec.ParameterCount} parameters";
        }

        /// <summary>
        /// Why a checkpoint does not fit <paramref name="model"/> (null when it does): each differing architecture
        /// field with both values, and the model the checkpoint belongs to.
        /// </summary>
        public static string? Mismatch(string checkpoint, CheckpointState state, ModelSpec model)
        {
            if (state.Spec is { } saved)
            {
                var differences = ArchitectureComparison.Differences(saved, model);
                if (differences.Count == 0) return null;
                return $"checkpoint '{checkpoint}' is of another architecture than {model.Name}; these fields differ:\n  "
                       + string.Join("\n  ", differences) + $"\nit belongs to {state.Model}: load it with that model";
            }
            // The first format: an exact string (its checkpoints have no Spec to compare field by field).
            if (state.Architecture == LegacyArchitectureString(model)) return null;
            return $"checkpoint '{checkpoint}' (written by an earlier LnsDsl, which recorded the architecture only as a description) is of another architecture:\n"
                   + $"  checkpoint: {state.Architecture}\n  model:      {LegacyArchitectureString(model)}\nload it with '{state.Model}'";
        }

        public static string Save(string runDirectory, int step, TransformerModule model, ITrainingOptimizer optimizer,
            ITextTokenizer tokenizer, CheckpointState state, int keep)
        {
            string root = Path.Combine(runDirectory, Directory);
            System.IO.Directory.CreateDirectory(root);
            string final = Path.Combine(root, $"step-{step:D7}");
            StagedDirectory.Write(final, temp =>
            {
                model.save(Path.Combine(temp, "model.bin"));
                optimizer.Save(Path.Combine(temp, "optimizer.bin"));
                Tokenizers.Save(tokenizer, Path.Combine(temp, "tokenizer.json"));
                var checksums = new[] { "model.bin", "optimizer.bin", "tokenizer.json" }.ToDictionary(f => f, f => Sha(Path.Combine(temp, f)));
                File.WriteAllText(Path.Combine(temp, "state.json"), JsonSerializer.Serialize(state with { Step = step, Checksums = checksums }, RunDirectory.Json));
            }, replace: true);
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
        public static CheckpointState ReadState(string checkpoint) => Verify(checkpoint, PeekState(checkpoint));

        /// <summary>Checks each file <paramref name="state"/> (read by <see cref="PeekState"/>) lists against its checksum
        /// (each file hashed once) and returns the state.</summary>
        public static CheckpointState Verify(string checkpoint, CheckpointState state)
        {
            foreach (var (file, sha) in state.Checksums)
            {
                string path = Path.Combine(checkpoint, file);
                if (!File.Exists(path)) throw new UserError($"checkpoint '{checkpoint}' is incomplete: {file} is missing");
                if (Sha(path) != sha) throw new UserError($"checkpoint '{checkpoint}' is corrupt: {file} does not match its checksum");
            }
            return state;
        }

        /// <summary>Reads a checkpoint's state without hashing its files (what it records, before deciding to load it;
        /// <see cref="ReadState"/> and <see cref="LoadModel"/> verify).</summary>
        public static CheckpointState PeekState(string checkpoint)
        {
            CheckpointState? state;
            try { state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(Path.Combine(checkpoint, "state.json")), RunDirectory.Json); }
            catch (JsonException e) { throw new UserError($"checkpoint '{checkpoint}' is corrupt: state.json is not valid ({e.Message})"); }
            return state ?? throw new UserError($"checkpoint '{checkpoint}' is corrupt: state.json is empty");
        }

        /// <summary>Loads the weights into <paramref name="model"/> after checking the files and the architecture.</summary>
        public static CheckpointState LoadModel(string checkpoint, TransformerModule model) => LoadVerified(checkpoint, ReadState(checkpoint), model);

        /// <summary>Loads the weights into <paramref name="model"/> after checking the architecture; <paramref name="state"/>
        /// is the checkpoint's state as <see cref="ReadState"/> or <see cref="Verify"/> returned it (files already hashed).</summary>
        public static CheckpointState LoadVerified(string checkpoint, CheckpointState state, TransformerModule model)
        {
            if (Mismatch(checkpoint, state, model.Spec) is { } why) throw new UserError(why);
            try { model.load(Path.Combine(checkpoint, "model.bin")); }
            catch (Exception e) when (e is not UserError) { throw new UserError($"checkpoint '{checkpoint}': model.bin could not be loaded ({e.Message})"); }
            return state;
        }

        public static string Sha(string path)
        {
            using var stream = File.OpenRead(path);
            return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        }

    }
}
