using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Interop
{
    /// <summary>
    /// The safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
    /// (<c>{"__metadata__": {..}?, "NAME": {"dtype", "shape", "data_offsets": [begin, end]}, ...}</c>), then the
    /// data buffer, each tensor little-endian and row-major at its offsets. Files are checked by the reference
    /// implementation's rules; a file that breaks them raises <see cref="SafeTensorsFormatException"/>.
    /// Sharded checkpoints (<c>model.safetensors.index.json</c>) are <see cref="ReadCheckpoint"/> and
    /// <see cref="WriteCheckpoint"/>.
    /// </summary>
    public static partial class SafeTensors
    {
        /// <summary>The bytes copied per read or write call (a span holds at most 2^31 - 1).</summary>
        private const int Chunk = 1 << 30;

        /// <summary>
        /// The tensors of a file, on the CPU in their stored dtypes, in the order of their data offsets. The file
        /// is streamed straight into each tensor's memory: it is never held twice.
        /// </summary>
        public static IReadOnlyDictionary<string, Tensor> Read(string path) => ReadWithMetadata(path).Tensors;

        /// <summary>The tensors (as <see cref="Read"/>) and the file's <c>__metadata__</c> (empty when it has none).</summary>
        public static (IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadWithMetadata(string path)
        {
            using var handle = Open(path);
            var header = ReadHeader(path, handle);
            return (ReadTensors(path, handle, header), header.Metadata);
        }

        /// <summary>The file's <c>__metadata__</c> (empty when it has none); reads the header only.</summary>
        public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => ReadHeader(path).Metadata;

        /// <summary>The file's checked header: each tensor's name, dtype, shape and offsets, and the metadata. Reads no tensor data.</summary>
        public static SafeTensorsHeader ReadHeader(string path)
        {
            using var handle = Open(path);
            return ReadHeader(path, handle);
        }

        /// <summary>The format's name for a TorchSharp element type (<c>F32</c>, <c>BF16</c>, ...); null for one this library does not carry.</summary>
        public static string? DtypeName(ScalarType type) => SafeTensorsDtypes.NameOf(type);

        /// <summary>The TorchSharp element type of a format dtype name; null for a name unknown or not carried (U16, U32, U64, C64, F8_*, ...).</summary>
        public static ScalarType? ScalarTypeOf(string dtype) => SafeTensorsDtypes.TryGet(dtype, out var kind) ? kind.Torch : null;

        /// <summary>Writes the tensors in the dictionary's order, without metadata. See the overload.</summary>
        public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors) => Write(path, tensors, null);

        /// <summary>
        /// Writes a file atomically (a temporary file in the same directory, then a rename: a failure never leaves
        /// a half-written file). The header puts <c>__metadata__</c> first when given and is padded with spaces so the
        /// data starts 8-aligned; tensors follow in the dictionary's order, contiguous, little-endian, row-major,
        /// copied to the CPU where they live elsewhere. Tensors that share storage (a tied embedding passed twice)
        /// are refused: store such a tensor once.
        /// </summary>
        public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
        {
            ArgumentNullException.ThrowIfNull(path);
            ArgumentNullException.ThrowIfNull(tensors);
            var plan = Plan(tensors, metadata);
            AtomicFile.Write(path, stream => WriteTo(stream, plan, tensors, metadata));
        }

        // ---- reading ----

        private static SafeFileHandle Open(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            try
            {
                return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new UserError($"{path}: no such file");
            }
        }

        private static SafeTensorsHeader ReadHeader(string path, SafeFileHandle handle)
        {
            long length = RandomAccess.GetLength(handle);
            if (length < 8) throw SafeTensorsHeaderParser.Fail(path, null, $"the file holds {length} bytes, fewer than the 8 of the header length");
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(path, handle, prefix, 0, null);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (n > SafeTensorsHeaderParser.MaxHeaderLength)
                throw SafeTensorsHeaderParser.Fail(path, null, $"the header length {n} exceeds the limit of {SafeTensorsHeaderParser.MaxHeaderLength} bytes");
            if (n > (ulong)(length - 8))
                throw SafeTensorsHeaderParser.Fail(path, null, $"the header length {n} runs past the end of the file ({length} bytes)");
            var json = new byte[n];
            ReadExactly(path, handle, json, 8, null);
            long dataStart = 8 + (long)n;
            return SafeTensorsHeaderParser.Parse(path, json, dataStart, length - dataStart);
        }

        /// <summary>One tensor of an open file, read into a new CPU tensor.</summary>
        internal static Tensor ReadTensor(string path, SafeFileHandle handle, SafeTensorsHeader header, SafeTensorsEntry e)
        {
            SafeTensorsDtypes.TryGet(e.Dtype, out var kind);
            if (kind.Torch is null)
                throw new SafeTensorsFormatException(path, e.Name, $"dtype {e.Dtype} of tensor '{e.Name}' is not supported (supported: {SafeTensorsDtypes.Supported})", problemNamesTensor: true);
            var tensor = torch.empty(e.Shape.ToArray(), kind.Torch.Value);
            try
            {
                if (e.ByteLength > 0)
                    unsafe { ReadExactly(path, handle, (byte*)TensorMemory.DataPointer(tensor), e.ByteLength, header.DataStart + e.Begin, e.Name); }
                return tensor;
            }
            catch
            {
                tensor.Dispose();
                throw;
            }
        }

        internal static SafeFileHandle OpenForReading(string path) => Open(path);

        private static IReadOnlyDictionary<string, Tensor> ReadTensors(string path, SafeFileHandle handle, SafeTensorsHeader header)
        {
            foreach (var e in header.Entries)
            {
                SafeTensorsDtypes.TryGet(e.Dtype, out var kind);
                if (kind.Torch is null)
                    throw new SafeTensorsFormatException(path, e.Name, $"dtype {e.Dtype} of tensor '{e.Name}' is not supported (supported: {SafeTensorsDtypes.Supported})", problemNamesTensor: true);
            }
            var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                foreach (var e in header.Entries)
                {
                    SafeTensorsDtypes.TryGet(e.Dtype, out var kind);
                    var tensor = torch.empty(e.Shape.ToArray(), kind.Torch!.Value);
                    result.Add(e.Name, tensor);
                    if (e.ByteLength > 0)
                        unsafe { ReadExactly(path, handle, (byte*)TensorMemory.DataPointer(tensor), e.ByteLength, header.DataStart + e.Begin, e.Name); }
                }
                return result;
            }
            catch
            {
                foreach (var t in result.Values) t.Dispose();
                throw;
            }
        }

        private static unsafe void ReadExactly(string path, SafeFileHandle handle, byte* destination, long count, long offset, string tensor)
        {
            for (long done = 0; done < count;)
            {
                int chunk = (int)Math.Min(Chunk, count - done);
                ReadExactly(path, handle, new Span<byte>(destination + done, chunk), offset + done, tensor);
                done += chunk;
            }
        }

        private static void ReadExactly(string path, SafeFileHandle handle, Span<byte> destination, long offset, string? tensor)
        {
            while (destination.Length > 0)
            {
                int read = RandomAccess.Read(handle, destination, offset);
                if (read <= 0) throw SafeTensorsHeaderParser.Fail(path, tensor, $"the file is truncated: it ends at byte {offset}");
                destination = destination[read..];
                offset += read;
            }
        }

        // ---- writing ----

        private sealed record Planned(string Name, string Dtype, long[] Shape, long Bytes);

        /// <summary>Checks the tensors and metadata, and lists each tensor's dtype, shape and byte length.</summary>
        private static List<Planned> Plan(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
        {
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors files are written on little-endian machines only");
            if (metadata is not null)
                foreach (var (key, value) in metadata)
                {
                    if (key is null || !IsValidText(key)) throw new UserError("a safetensors metadata key is not valid text");
                    if (value is null || !IsValidText(value)) throw new UserError($"safetensors metadata '{key}' has no valid text value");
                }
            var plan = new List<Planned>(tensors.Count);
            var storages = new Dictionary<(string, IntPtr), string>();
            foreach (var (name, tensor) in tensors)
            {
                if (name is null || !IsValidText(name)) throw new UserError("a tensor name is not valid text");
                if (name == SafeTensorsHeaderParser.MetadataKey) throw new UserError($"a tensor cannot be called {SafeTensorsHeaderParser.MetadataKey}");
                if (tensor is null) throw new UserError($"tensor '{name}' is null");
                if (tensor.is_sparse) throw new UserError($"tensor '{name}' is sparse: safetensors stores dense tensors");
                string dtype = SafeTensorsDtypes.NameOf(tensor.dtype)
                    ?? throw new UserError($"tensor '{name}' has dtype {tensor.dtype}, which safetensors files here do not carry (supported: {SafeTensorsDtypes.Supported})");
                SafeTensorsDtypes.TryGet(dtype, out var kind);
                long[] shape = tensor.shape;
                long bytes = SafeTensorsHeaderParser.ByteLength(kind, shape)
                    ?? throw new UserError($"tensor '{name}' of shape {SafeTensorsHeaderParser.Shape(shape)} is too large to store");
                IntPtr storage = TensorMemory.StoragePointer(tensor);
                if (storage != IntPtr.Zero && bytes > 0)
                {
                    var key = (tensor.device.ToString(), storage);
                    if (storages.TryGetValue(key, out string? other))
                        throw new UserError($"tensors '{other}' and '{name}' share storage (tied weights?): safetensors stores each storage once, so pass only one of them");
                    storages.Add(key, name);
                }
                plan.Add(new Planned(name, dtype, shape, bytes));
            }
            long total = 0;
            foreach (var p in plan)
                if ((total += p.Bytes) < 0) throw new UserError("the tensors together are too large to store");
            return plan;
        }

        private static bool IsValidText(string s)
        {
            for (int i = 0; i < s.Length; i++)
            {
                if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
                if (char.IsSurrogate(s[i])) return false;
            }
            return true;
        }

        /// <summary>The header bytes: length prefix, JSON, and the spaces that make the data start 8-aligned.</summary>
        private static byte[] Header(List<Planned> plan, IReadOnlyDictionary<string, string>? metadata)
        {
            var json = new MemoryStream();
            using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartObject();
                if (metadata is not null)
                {
                    writer.WriteStartObject(SafeTensorsHeaderParser.MetadataKey);
                    foreach (var (key, value) in metadata) writer.WriteString(key, value);
                    writer.WriteEndObject();
                }
                long offset = 0;
                foreach (var p in plan)
                {
                    writer.WriteStartObject(p.Name);
                    writer.WriteString("dtype", p.Dtype);
                    writer.WriteStartArray("shape");
                    foreach (long d in p.Shape) writer.WriteNumberValue(d);
                    writer.WriteEndArray();
                    writer.WriteStartArray("data_offsets");
                    writer.WriteNumberValue(offset);
                    writer.WriteNumberValue(offset += p.Bytes);
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            long n = json.Length;
            long padded = (n + 7) / 8 * 8; // 8 + padded is a multiple of 8
            var header = new byte[8 + padded];
            BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
            json.GetBuffer().AsSpan(0, (int)n).CopyTo(header.AsSpan(8));
            header.AsSpan(8 + (int)n).Fill((byte)' ');
            return header;
        }

        private static void WriteTo(Stream stream, List<Planned> plan, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
        {
            stream.Write(Header(plan, metadata));
            foreach (var p in plan)
            {
                if (p.Bytes == 0) continue;
                var tensor = tensors[p.Name];
                var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
                var dense = cpu.is_contiguous() ? cpu : cpu.contiguous();
                try
                {
                    unsafe
                    {
                        byte* data = (byte*)TensorMemory.DataPointer(dense);
                        for (long done = 0; done < p.Bytes;)
                        {
                            int chunk = (int)Math.Min(Chunk, p.Bytes - done);
                            stream.Write(new ReadOnlySpan<byte>(data + done, chunk));
                            done += chunk;
                        }
                    }
                }
                finally
                {
                    if (!ReferenceEquals(dense, cpu)) dense.Dispose();
                    if (!ReferenceEquals(cpu, tensor)) cpu.Dispose();
                }
            }
        }
    }
}
