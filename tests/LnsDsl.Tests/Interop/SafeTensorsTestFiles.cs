using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Files for the safetensors tests, assembled byte by byte from the format's definition (not by the writer under test).</summary>
    internal static class SafeTensorsTestFiles
    {
        /// <summary>An 8-byte little-endian header length, the header's bytes, then the data.</summary>
        public static byte[] Assemble(byte[] header, byte[] data, ulong? headerLength = null)
        {
            var file = new byte[8 + header.Length + data.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(file, headerLength ?? (ulong)header.Length);
            header.CopyTo(file, 8);
            data.CopyTo(file, 8 + header.Length);
            return file;
        }

        public static byte[] Assemble(string header, byte[] data, ulong? headerLength = null) => Assemble(Encoding.UTF8.GetBytes(header), data, headerLength);

        public static byte[] LittleEndian(params float[] values)
        {
            var bytes = new byte[values.Length * 4];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
            return bytes;
        }

        /// <summary>A tensor of each dtype the library carries, with values that exercise every bit pattern class (NaN, infinities, negatives, extremes).</summary>
        public static Dictionary<string, Tensor> OneOfEach(int seed)
        {
            var g = new Generator((ulong)seed);
            var floats = torch.randn(new long[] { 3, 5 }, generator: g) * 100;
            floats[0, 0] = torch.tensor(float.NaN);
            floats[0, 1] = torch.tensor(float.PositiveInfinity);
            floats[0, 2] = torch.tensor(float.NegativeInfinity);
            floats[0, 3] = torch.tensor(-0.0f);
            return new Dictionary<string, Tensor>
            {
                ["f32"] = floats.clone(),
                ["f16"] = floats.to_type(ScalarType.Float16),
                ["bf16"] = floats.to_type(ScalarType.BFloat16),
                ["f64"] = torch.randn(new long[] { 2, 2, 2 }, ScalarType.Float64, generator: g),
                ["i64"] = torch.tensor(new long[] { long.MinValue, -1, 0, 1, long.MaxValue }),
                ["i32"] = torch.tensor(new int[] { int.MinValue, -7, 0, 7, int.MaxValue, 12 }).reshape(2, 3),
                ["i16"] = torch.tensor(new short[] { short.MinValue, -3, 3, short.MaxValue }),
                ["i8"] = torch.tensor(new sbyte[] { sbyte.MinValue, -1, 0, sbyte.MaxValue }),
                ["u8"] = torch.tensor(new byte[] { 0, 1, 128, 255 }),
                ["bool"] = torch.tensor(new[] { true, false, false, true, true }),
                ["scalar"] = torch.tensor(2.5f),
                ["empty"] = torch.empty(new long[] { 0, 4 }, ScalarType.Float32),
            };
        }

        /// <summary>A tensor's elements as raw bytes.</summary>
        public static byte[] Bytes(Tensor t) => t.numel() == 0 ? Array.Empty<byte>() : t.contiguous().bytes.ToArray();
    }
}
