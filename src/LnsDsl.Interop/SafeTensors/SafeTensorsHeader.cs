using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using TorchSharp;

namespace LnsDsl.Interop
{
    /// <summary>One tensor's entry in a safetensors header: where its bytes lie in the data buffer.</summary>
    /// <param name="Dtype">The format's name of the element type (<c>F32</c>, <c>BF16</c>, ...).</param>
    /// <param name="Begin">The first byte, relative to the start of the data buffer.</param>
    /// <param name="End">One past the last byte.</param>
    public sealed record SafeTensorsEntry(string Name, string Dtype, IReadOnlyList<long> Shape, long Begin, long End)
    {
        public long ByteLength => End - Begin;
    }

    /// <summary>A validated safetensors header: the entries in the order of their data offsets, and <c>__metadata__</c>.</summary>
    /// <param name="DataStart">The absolute file offset of the data buffer (8 + the header's length).</param>
    public sealed record SafeTensorsHeader(IReadOnlyList<SafeTensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataStart);

    /// <summary>The element types the format names, and the TorchSharp type of those this library reads and writes.</summary>
    internal static class SafeTensorsDtypes
    {
        internal readonly record struct Kind(int Bits, torch.ScalarType? Torch);

        private static readonly Dictionary<string, Kind> Kinds = new(StringComparer.Ordinal)
        {
            ["BOOL"] = new(8, torch.ScalarType.Bool),
            ["U8"] = new(8, torch.ScalarType.Byte),
            ["I8"] = new(8, torch.ScalarType.Int8),
            ["I16"] = new(16, torch.ScalarType.Int16),
            ["F16"] = new(16, torch.ScalarType.Float16),
            ["BF16"] = new(16, torch.ScalarType.BFloat16),
            ["I32"] = new(32, torch.ScalarType.Int32),
            ["F32"] = new(32, torch.ScalarType.Float32),
            ["F64"] = new(64, torch.ScalarType.Float64),
            ["I64"] = new(64, torch.ScalarType.Int64),
            // Named by the format, without a TorchSharp type (or, for C64, not carried here): refused by name.
            ["U16"] = new(16, null),
            ["U32"] = new(32, null),
            ["U64"] = new(64, null),
            ["C64"] = new(64, null),
            ["F8_E4M3"] = new(8, null),
            ["F8_E5M2"] = new(8, null),
            ["F8_E8M0"] = new(8, null),
            ["F6_E2M3"] = new(6, null),
            ["F6_E3M2"] = new(6, null),
            ["F4"] = new(4, null),
        };

        internal static bool TryGet(string name, out Kind kind) => Kinds.TryGetValue(name, out kind);

        internal static string Supported => "BOOL, U8, I8, I16, F16, BF16, I32, F32, F64, I64";

        internal static string? NameOf(torch.ScalarType type)
        {
            foreach (var (name, kind) in Kinds)
                if (kind.Torch == type) return name;
            return null;
        }
    }

    /// <summary>Reads and checks a header by the reference implementation's rules.</summary>
    internal static class SafeTensorsHeaderParser
    {
        internal const ulong MaxHeaderLength = 100_000_000;
        internal const string MetadataKey = "__metadata__";

        /// <param name="file">The file, for messages.</param>
        /// <param name="json">The header's N bytes.</param>
        /// <param name="dataStart">8 + N.</param>
        /// <param name="dataLength">The bytes after the header.</param>
        internal static SafeTensorsHeader Parse(string file, ReadOnlySpan<byte> json, long dataStart, long dataLength)
        {
            if (!System.Text.Unicode.Utf8.IsValid(json)) throw Fail(file, null, "the header is not valid UTF-8");
            var entries = new List<SafeTensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var names = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false, MaxDepth = 64 });
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw Fail(file, null, "the header is not a JSON object");
                while (Next(ref reader, file) != JsonTokenType.EndObject)
                {
                    string name = reader.GetString()!;
                    if (!names.Add(name))
                        throw Fail(file, name == MetadataKey ? null : name, name == MetadataKey ? "__metadata__ appears twice in the header" : "the name appears twice in the header");
                    Next(ref reader, file);
                    if (name == MetadataKey) ReadMetadata(ref reader, file, metadata);
                    else entries.Add(ReadEntry(ref reader, file, name));
                }
                if (reader.Read()) throw Fail(file, null, "the header holds more than one JSON value");
            }
            catch (JsonException e)
            {
                throw Fail(file, null, $"the header is not valid JSON ({e.Message})");
            }
            catch (InvalidOperationException e)
            {
                throw Fail(file, null, $"the header is not valid JSON ({e.Message})");
            }
            return new SafeTensorsHeader(CheckLayout(file, entries, dataLength), metadata, dataStart);
        }

        /// <summary>The byte length of a tensor of this kind and shape, overflow-checked; null when it does not fit in a long.</summary>
        internal static long? ByteLength(SafeTensorsDtypes.Kind kind, IReadOnlyList<long> shape)
        {
            try
            {
                long numel = 1;
                foreach (long d in shape) numel = checked(numel * d);
                long bits = checked(numel * kind.Bits);
                return bits % 8 == 0 ? bits / 8 : null;
            }
            catch (OverflowException)
            {
                return null;
            }
        }

        private static JsonTokenType Next(ref Utf8JsonReader reader, string file)
        {
            if (!reader.Read()) throw Fail(file, null, "the header's JSON ends early");
            return reader.TokenType;
        }

        private static void ReadMetadata(ref Utf8JsonReader reader, string file, Dictionary<string, string> metadata)
        {
            if (reader.TokenType != JsonTokenType.StartObject) throw Fail(file, null, "__metadata__ is not a JSON object");
            while (Next(ref reader, file) != JsonTokenType.EndObject)
            {
                string key = reader.GetString()!;
                if (Next(ref reader, file) != JsonTokenType.String) throw Fail(file, null, $"__metadata__ value of '{key}' is not a string");
                if (!metadata.TryAdd(key, reader.GetString()!)) throw Fail(file, null, $"__metadata__ key '{key}' appears twice");
            }
        }

        private static SafeTensorsEntry ReadEntry(ref Utf8JsonReader reader, string file, string name)
        {
            if (reader.TokenType != JsonTokenType.StartObject) throw Fail(file, name, "the entry is not a JSON object");
            string? dtype = null;
            List<long>? shape = null, offsets = null;
            while (Next(ref reader, file) != JsonTokenType.EndObject)
            {
                string field = reader.GetString()!;
                Next(ref reader, file);
                switch (field)
                {
                    case "dtype":
                        if (dtype is not null) throw Fail(file, name, "\"dtype\" appears twice");
                        if (reader.TokenType != JsonTokenType.String) throw Fail(file, name, "\"dtype\" is not a string");
                        dtype = reader.GetString()!;
                        break;
                    case "shape":
                        if (shape is not null) throw Fail(file, name, "\"shape\" appears twice");
                        shape = ReadIntegers(ref reader, file, name, "shape");
                        break;
                    case "data_offsets":
                        if (offsets is not null) throw Fail(file, name, "\"data_offsets\" appears twice");
                        offsets = ReadIntegers(ref reader, file, name, "data_offsets");
                        if (offsets.Count != 2) throw Fail(file, name, $"\"data_offsets\" holds {offsets.Count} numbers, not 2");
                        break;
                    default:
                        reader.Skip(); // fields the format does not define are ignored, as the reference reader does
                        break;
                }
            }
            if (dtype is null) throw Fail(file, name, "the entry has no \"dtype\"");
            if (shape is null) throw Fail(file, name, "the entry has no \"shape\"");
            if (offsets is null) throw Fail(file, name, "the entry has no \"data_offsets\"");
            if (!SafeTensorsDtypes.TryGet(dtype, out _)) throw Fail(file, name, $"unknown dtype '{dtype}'");
            return new SafeTensorsEntry(name, dtype, shape.ToArray(), offsets[0], offsets[1]);
        }

        private static List<long> ReadIntegers(ref Utf8JsonReader reader, string file, string name, string field)
        {
            if (reader.TokenType != JsonTokenType.StartArray) throw Fail(file, name, $"\"{field}\" is not an array");
            var values = new List<long>();
            while (Next(ref reader, file) != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong value) || value > long.MaxValue)
                    throw Fail(file, name, $"\"{field}\" holds something other than a non-negative integer below 2^63");
                values.Add((long)value);
            }
            return values;
        }

        private static IReadOnlyList<SafeTensorsEntry> CheckLayout(string file, List<SafeTensorsEntry> entries, long dataLength)
        {
            foreach (var e in entries)
            {
                SafeTensorsDtypes.TryGet(e.Dtype, out var kind);
                if (e.End < e.Begin) throw Fail(file, e.Name, $"data_offsets [{e.Begin}, {e.End}] end before they begin");
                long? bytes = ByteLength(kind, e.Shape);
                if (bytes is null) throw Fail(file, e.Name, $"shape {Shape(e.Shape)} of dtype {e.Dtype} is too large or not a whole number of bytes");
                if (bytes != e.End - e.Begin)
                    throw Fail(file, e.Name, $"dtype {e.Dtype} and shape {Shape(e.Shape)} take {bytes} bytes but data_offsets [{e.Begin}, {e.End}] hold {e.End - e.Begin}");
            }
            var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
            long expected = 0;
            SafeTensorsEntry? previous = null;
            foreach (var e in sorted)
            {
                if (e.Begin != expected)
                {
                    if (previous is null) throw Fail(file, e.Name, $"the first tensor in the data begins at byte {e.Begin}, not 0");
                    if (e.Begin > expected)
                        throw Fail(file, e.Name, $"a gap of {e.Begin - expected} bytes lies between tensor '{previous.Name}' (ends at {expected}) and this one (begins at {e.Begin})");
                    throw Fail(file, e.Name, $"overlaps tensor '{previous.Name}': begins at {e.Begin}, before that one ends at {expected}");
                }
                expected = e.End;
                previous = e;
            }
            if (expected < dataLength)
                throw Fail(file, null, $"{dataLength - expected} trailing bytes follow the last tensor's data (the tensors end at data byte {expected}, the file at {dataLength})");
            if (expected > dataLength)
                throw Fail(file, previous!.Name, $"the file is truncated: the data ends at byte {dataLength} but this tensor ends at {expected}");
            return sorted;
        }

        internal static string Shape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";

        internal static SafeTensorsFormatException Fail(string file, string? tensor, string problem) => new(file, tensor, problem);
    }
}
