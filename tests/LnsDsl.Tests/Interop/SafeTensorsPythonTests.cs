using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using LnsDsl.Interop;
using Xunit;
using Xunit.Abstractions;
using static LnsDsl.Tests.SafeTensorsTestFiles;

namespace LnsDsl.Tests
{
    /// <summary>
    /// The writer's file read by an independent reader in Python (struct + json + torch.frombuffer), where
    /// <c>/usr/bin/python3</c> imports torch (Debian: python3-torch). Without it the test prints why and passes.
    /// </summary>
    public sealed class SafeTensorsPythonTests : IDisposable
    {
        private const string Python = PythonProcess.Executable;
        private readonly ITestOutputHelper _output;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-stp-" + Guid.NewGuid().ToString("N"));

        public SafeTensorsPythonTests(ITestOutputHelper output)
        {
            _output = output;
            Directory.CreateDirectory(_dir);
        }

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        // Prints, per tensor in file order: name, torch dtype, shape, SHA-256 of its bytes; then the metadata.
        private const string Reader = @"
import hashlib, json, struct, sys, torch
DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64, 'I64': torch.int64,
          'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool}
with open(sys.argv[1], 'rb') as f:
    raw = f.read()
(n,) = struct.unpack('<Q', raw[:8])
assert (8 + n) % 8 == 0, 'header not 8-aligned'
header = json.loads(raw[8:8 + n].decode('utf-8'))
meta = header.pop('__metadata__', {})
data = bytearray(raw[8 + n:])
end = 0
for name, e in sorted(header.items(), key=lambda kv: kv[1]['data_offsets']):
    b, t_end = e['data_offsets']
    assert b == end, 'gap or overlap at ' + name
    end = t_end
    dtype = DTYPES[e['dtype']]
    if b == t_end:
        t = torch.empty(e['shape'], dtype=dtype)
        digest = hashlib.sha256(b'').hexdigest()
    else:
        t = torch.frombuffer(data, dtype=dtype, count=(t_end - b) // torch.empty((), dtype=dtype).element_size(), offset=b).reshape(e['shape'])
        digest = hashlib.sha256(bytes(t.reshape(-1).view(torch.uint8).tolist())).hexdigest()
    print(name, e['dtype'], str(t.dtype), list(t.shape), digest)
assert end == len(data), 'trailing bytes'
print('metadata', json.dumps(meta, sort_keys=True))
";

        [Fact]
        public void A_file_the_writer_produced_is_read_by_an_independent_python_reader()
        {
            if (!PythonProcess.Available("torch", _output, "the cross-check")) return;
            var tensors = OneOfEach(seed: 7);
            string path = Path.Combine(_dir, "cross.safetensors");
            SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
            string script = Path.Combine(_dir, "reader.py");
            File.WriteAllText(script, Reader);
            Assert.True(Run($"\"{script}\" \"{path}\"", out string stdout, out string stderr) == 0, stdout + stderr);
            _output.WriteLine(stdout);

            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(tensors.Count + 1, lines.Length);
            Assert.Equal("metadata {\"format\": \"pt\"}", lines[^1]);
            var expected = tensors.Select(kv => $"{kv.Key} {Dtype(kv.Value)} {TorchName(kv.Value)} [{string.Join(", ", kv.Value.shape)}] {Convert.ToHexStringLower(SHA256.HashData(Bytes(kv.Value)))}");
            Assert.Equal(expected, lines[..^1]);
        }

        private static string Dtype(TorchSharp.torch.Tensor t) => SafeTensors.DtypeName(t.dtype)!;

        private static string TorchName(TorchSharp.torch.Tensor t) => t.dtype switch
        {
            TorchSharp.torch.ScalarType.Float32 => "torch.float32",
            TorchSharp.torch.ScalarType.Float16 => "torch.float16",
            TorchSharp.torch.ScalarType.BFloat16 => "torch.bfloat16",
            TorchSharp.torch.ScalarType.Float64 => "torch.float64",
            TorchSharp.torch.ScalarType.Int64 => "torch.int64",
            TorchSharp.torch.ScalarType.Int32 => "torch.int32",
            TorchSharp.torch.ScalarType.Int16 => "torch.int16",
            TorchSharp.torch.ScalarType.Int8 => "torch.int8",
            TorchSharp.torch.ScalarType.Byte => "torch.uint8",
            TorchSharp.torch.ScalarType.Bool => "torch.bool",
            var other => other.ToString(),
        };

        private static int Run(string arguments, out string output, out string errors)
        {
            (int code, output, errors) = PythonProcess.Run(arguments);
            return code;
        }
    }
}
