using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using LnsDsl.Interop;
using TorchSharp;
using Xunit;
using static LnsDsl.Tests.SafeTensorsTestFiles;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>safetensors files: round trips, a file assembled by hand, every malformed case the reference reader refuses, and the writer's refusals.</summary>
    public sealed class SafeTensorsTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-st-" + Guid.NewGuid().ToString("N"));

        public SafeTensorsTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string PathOf(string name) => Path.Combine(_dir, name);

        [Fact]
        public void Every_dtype_round_trips_bit_for_bit_with_metadata_and_an_aligned_header()
        {
            var tensors = OneOfEach(seed: 1);
            var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
            string path = PathOf("all.safetensors");
            SafeTensors.Write(path, tensors, metadata);

            byte[] file = File.ReadAllBytes(path);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
            Assert.Equal(0UL, (8 + n) % 8);
            string header = Encoding.UTF8.GetString(file, 8, (int)n);
            Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\"", header);

            var (back, meta) = SafeTensors.ReadWithMetadata(path);
            Assert.Equal(tensors.Keys, back.Keys); // the writer keeps the dictionary's order; the reader, the offsets'
            foreach (var (name, t) in tensors)
            {
                Assert.Equal(t.dtype, back[name].dtype);
                Assert.Equal(t.shape, back[name].shape);
                Assert.Equal(DeviceType.CPU, back[name].device_type);
                Assert.Equal(Bytes(t), Bytes(back[name]));
            }
            Assert.Equal(metadata, meta);
            Assert.Equal(metadata, SafeTensors.ReadMetadata(path));
            Assert.Empty(SafeTensors.ReadMetadata(Write("bare.safetensors", new() { ["x"] = torch.ones(2) })));
        }

        [Fact]
        public void The_writer_lays_out_the_bytes_the_format_defines()
        {
            string path = Write("one.safetensors", new() { ["x"] = torch.tensor(new[] { 1.5f, -2f }) }, new() { ["format"] = "pt" });
            const string json = "{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
            int padded = (json.Length + 7) / 8 * 8;
            Assert.Equal(Assemble(json + new string(' ', padded - json.Length), LittleEndian(1.5f, -2f)), File.ReadAllBytes(path));
        }

        [Fact]
        public void A_file_assembled_by_hand_reads_in_offset_order_with_scalar_and_empty_tensors()
        {
            // Unpadded header, metadata last, entries out of offset order.
            const string json = "{\"b\":{\"dtype\":\"I16\",\"shape\":[3],\"data_offsets\":[8,14]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[22,22]},"
                + "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[14,22]},"
                + "\"a\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                + "\"__metadata__\":{\"format\":\"pt\"}}";
            var data = new List<byte>();
            foreach (ushort bf in new ushort[] { 0x3F80, 0xC000, 0x3FC0, 0x0000 }) data.AddRange(BitConverter.GetBytes(bf)); // 1, -2, 1.5, 0
            foreach (short i in new short[] { 1, -2, 300 }) data.AddRange(BitConverter.GetBytes(i));
            data.AddRange(BitConverter.GetBytes(-0.25));
            string path = PathOf("hand.safetensors");
            File.WriteAllBytes(path, Assemble(json, data.ToArray()));

            var (t, meta) = SafeTensors.ReadWithMetadata(path);
            Assert.Equal(new[] { "a", "b", "s", "e" }, t.Keys);
            Assert.Equal(ScalarType.BFloat16, t["a"].dtype);
            Assert.Equal(new[] { 1f, -2f, 1.5f, 0f }, t["a"].to_type(ScalarType.Float32).data<float>().ToArray());
            Assert.Equal(new short[] { 1, -2, 300 }, t["b"].data<short>().ToArray());
            Assert.Empty(t["s"].shape);
            Assert.Equal(-0.25, t["s"].item<double>());
            Assert.Equal(new long[] { 0, 3 }, t["e"].shape);
            Assert.Equal("pt", meta["format"]);
            var header = SafeTensors.ReadHeader(path);
            Assert.Equal(new[] { "a", "b", "s", "e" }, header.Entries.Select(e => e.Name));
            Assert.Equal(8 + json.Length, header.DataStart);
        }

        public static IEnumerable<object[]> Malformed()
        {
            const string x = "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
            byte[] eight = new byte[8];
            object[] Case(string what, byte[] file, string message) => new object[] { what, file, message };
            object[] Json(string what, string header, byte[] data, string message) => Case(what, Assemble(header, data), message);

            yield return Case("under 8 bytes", new byte[] { 1, 0, 0 }, "fewer than the 8");
            yield return Case("header over 100 MB", Assemble("{}", Array.Empty<byte>(), 100_000_001), "exceeds the limit");
            yield return Case("header past the end", Assemble("{}", Array.Empty<byte>(), 3), "runs past the end");
            yield return Case("header length 2^64 - 1", Assemble("{}", Array.Empty<byte>(), ulong.MaxValue), "exceeds the limit");
            yield return Case("not UTF-8", Assemble(new byte[] { (byte)'{', 0xFF, 0xFE, (byte)'}' }, Array.Empty<byte>()), "not valid UTF-8");
            yield return Json("not JSON", "{\"x\":", Array.Empty<byte>(), "JSON");
            yield return Json("not an object", "[1, 2]", Array.Empty<byte>(), "not a JSON object");
            yield return Json("two JSON values", "{}{}", Array.Empty<byte>(), "JSON");
            yield return Json("entry not an object", "{\"x\":[0,8]}", eight, "tensor 'x': the entry is not a JSON object");
            yield return Json("no dtype", "{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight, "tensor 'x': the entry has no \"dtype\"");
            yield return Json("no shape", "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", eight, "no \"shape\"");
            yield return Json("no offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight, "no \"data_offsets\"");
            yield return Json("dtype not a string", "{\"x\":{\"dtype\":5,\"shape\":[2],\"data_offsets\":[0,8]}}", eight, "\"dtype\" is not a string");
            yield return Json("negative dimension", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight, "non-negative integer");
            yield return Json("fractional dimension", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", eight, "non-negative integer");
            yield return Json("dimension over 2^64", "{\"x\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,8]}}", eight, "non-negative integer");
            yield return Json("three offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", eight, "holds 3 numbers, not 2");
            yield return Json("offsets as strings", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}}", eight, "non-negative integer");
            yield return Json("metadata not an object", "{\"__metadata__\":[\"pt\"]," + x + "}", eight, "__metadata__ is not a JSON object");
            yield return Json("metadata value not a string", "{\"__metadata__\":{\"format\":1}," + x + "}", eight, "value of 'format' is not a string");
            yield return Json("unknown dtype", "{\"x\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight, "tensor 'x': unknown dtype 'F17'");
            yield return Json("U32", "{\"x\":{\"dtype\":\"U32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight, "dtype U32 of tensor 'x' is not supported");
            yield return Json("F8", "{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", eight, "dtype F8_E4M3 of tensor 'x' is not supported");
            yield return Json("first begin not 0", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12], "begins at byte 4, not 0");
            yield return Json("gap", "{" + x + ",\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", new byte[16], "a gap of 4 bytes lies between tensor 'x'");
            yield return Json("overlap", "{" + x + ",\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight, "overlaps tensor 'x'");
            yield return Json("end before begin", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", eight, "tensor 'x': data_offsets [8, 0] end before they begin");
            yield return Json("size mismatch", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight, "take 12 bytes but data_offsets [0, 8] hold 8");
            yield return Json("numel overflow", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", Array.Empty<byte>(), "too large");
            yield return Json("trailing bytes", "{" + x + "}", new byte[9], "1 trailing bytes");
            yield return Json("duplicate name", "{" + x + "," + x.Replace("[0,8]", "[8,16]") + "}", new byte[16], "tensor 'x': the name appears twice");
            yield return Json("duplicate field", "{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight, "\"dtype\" appears twice");
            yield return Json("truncated", "{" + x + "}", new byte[5], "truncated");
        }

        [Theory]
        [MemberData(nameof(Malformed))]
        public void Malformed_files_are_refused_with_the_file_tensor_and_problem(string what, byte[] file, string message)
        {
            string path = PathOf("bad.safetensors");
            File.WriteAllBytes(path, file);
            var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Read(path));
            Assert.True(e.Message.StartsWith(path + ": "), $"{what}: {e.Message}");
            Assert.True(e.Message.Contains(message), $"{what}: expected '{message}' in '{e.Message}'");
            Assert.IsAssignableFrom<UserError>(e);
        }

        [Fact]
        public void Unknown_fields_are_ignored_and_empty_tensors_may_share_an_offset()
        {
            string path = PathOf("extra.safetensors");
            File.WriteAllBytes(path, Assemble(
                "{\"z1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"note\":{\"a\":[1]}},\"z2\":{\"dtype\":\"I64\",\"shape\":[2,0],\"data_offsets\":[0,0]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   ", LittleEndian(7f)));
            var t = SafeTensors.Read(path);
            Assert.Equal(new[] { "z1", "z2", "x" }, t.Keys);
            Assert.Equal(7f, t["x"].item<float>());
        }

        [Fact]
        public void A_missing_file_is_a_user_error()
        {
            var e = Assert.ThrowsAny<UserError>(() => SafeTensors.Read(PathOf("none.safetensors")));
            Assert.Contains("none.safetensors", e.Message);
        }

        [Fact]
        public void Tensors_sharing_storage_are_refused_naming_both_and_nothing_is_written()
        {
            string path = Write("keep.safetensors", new() { ["a"] = torch.ones(3) });
            byte[] before = File.ReadAllBytes(path);
            var embed = torch.randn(4, 3);
            var tied = Assert.ThrowsAny<UserError>(() => SafeTensors.Write(path, new Dictionary<string, Tensor> { ["embed.weight"] = embed, ["lm_head.weight"] = embed }));
            Assert.Contains("'embed.weight'", tied.Message);
            Assert.Contains("'lm_head.weight'", tied.Message);
            var view = Assert.ThrowsAny<UserError>(() => SafeTensors.Write(path, new Dictionary<string, Tensor> { ["w"] = embed, ["row"] = embed[1] }));
            Assert.Contains("'w' and 'row' share storage", view.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal(new[] { "keep.safetensors" }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        }

        [Fact]
        public void Views_are_written_as_their_own_contiguous_elements()
        {
            var w = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4);
            var back = SafeTensors.Read(Write("views.safetensors", new() { ["t"] = w.t(), ["row"] = torch.arange(6, dtype: ScalarType.Int32)[2..5] }));
            Assert.Equal(new long[] { 4, 3 }, back["t"].shape);
            Assert.Equal(w.t().contiguous().data<float>().ToArray(), back["t"].data<float>().ToArray());
            Assert.Equal(new[] { 2, 3, 4 }, back["row"].data<int>().ToArray());
        }

        [Fact]
        public void Unsupported_dtypes_and_reserved_names_are_refused_when_writing()
        {
            Assert.Contains("ComplexFloat32", Assert.ThrowsAny<UserError>(() => SafeTensors.Write(PathOf("c.safetensors"),
                new Dictionary<string, Tensor> { ["c"] = torch.zeros(2, ScalarType.ComplexFloat32) })).Message);
            Assert.ThrowsAny<UserError>(() => SafeTensors.Write(PathOf("m.safetensors"), new Dictionary<string, Tensor> { ["__metadata__"] = torch.zeros(2) }));
            Assert.Empty(Directory.GetFiles(_dir));
        }

        private string Write(string name, Dictionary<string, Tensor> tensors, Dictionary<string, string>? metadata = null)
        {
            string path = PathOf(name);
            SafeTensors.Write(path, tensors, metadata);
            return path;
        }
    }
}
