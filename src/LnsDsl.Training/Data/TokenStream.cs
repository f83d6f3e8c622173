using System;
using System.Collections.Generic;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using System.Text;

namespace LnsDsl.Data
{
    /// <summary>
    /// A tokenised split on disk, memory-mapped. Layout (little-endian):
    /// <c>"LNSTOK01"</c>, int32 bytes per token (2 or 4), int32 0, int64 token count N, int64 document count D,
    /// 32 bytes SHA-256 of the payload; then the payload: N tokens, then D + 1 int64 document start offsets.
    /// Documents are stored back to back, each followed by the end-of-text token. The checksum is verified on
    /// open: a truncated or altered file is detected, never used.
    /// </summary>
    public sealed class TokenStream : IDisposable
    {
        private const int HeaderSize = 64;
        private static readonly byte[] Magic = Encoding.ASCII.GetBytes("LNSTOK01");

        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;
        private readonly int _bytesPerToken;
        private readonly long[] _documentStarts;

        private TokenStream(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, int bytesPerToken, long count, long[] starts)
        {
            Path = path;
            _file = file;
            _view = view;
            _bytesPerToken = bytesPerToken;
            Count = count;
            _documentStarts = starts;
        }

        public string Path { get; }

        /// <summary>Tokens, end-of-text separators included.</summary>
        public long Count { get; }

        public int Documents => _documentStarts.Length - 1;

        /// <summary>Start and length of document <paramref name="index"/> (its end-of-text excluded).</summary>
        public (long Start, long Length) Document(int index) => (_documentStarts[index], _documentStarts[index + 1] - _documentStarts[index] - 1);

        /// <summary>Copies tokens [start, start + destination.Length) into <paramref name="destination"/>.</summary>
        public void Read(long start, Span<long> destination)
        {
            if (start < 0 || start + destination.Length > Count) throw new ArgumentOutOfRangeException(nameof(start));
            long offset = HeaderSize + start * _bytesPerToken;
            if (_bytesPerToken == 2)
                for (int i = 0; i < destination.Length; i++) destination[i] = _view.ReadUInt16(offset + 2L * i);
            else
                for (int i = 0; i < destination.Length; i++) destination[i] = _view.ReadUInt32(offset + 4L * i);
        }

        /// <summary>Writes documents (each followed by <paramref name="endOfText"/>) atomically.</summary>
        public static void Write(string path, IReadOnlyList<int[]> documents, int endOfText, int vocabSize)
        {
            int bytesPerToken = vocabSize <= ushort.MaxValue + 1 ? 2 : 4;
            long count = 0;
            foreach (var d in documents) count += d.Length + 1;
            AtomicFile.Write(path, stream =>
            {
                stream.Write(new byte[HeaderSize]);
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new MemoryStream();
                var writer = new BinaryWriter(buffer);
                void Flush()
                {
                    writer.Flush();
                    sha.AppendData(buffer.GetBuffer(), 0, (int)buffer.Length);
                    stream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
                    buffer.SetLength(0);
                }
                void Token(int id)
                {
                    if (bytesPerToken == 2) writer.Write((ushort)id); else writer.Write((uint)id);
                    if (buffer.Length > 1 << 20) Flush();
                }
                foreach (var d in documents)
                {
                    foreach (var id in d) Token(id);
                    Token(endOfText);
                }
                long start = 0;
                foreach (var d in documents)
                {
                    writer.Write(start);
                    start += d.Length + 1;
                }
                writer.Write(start);
                Flush();
                byte[] hash = sha.GetHashAndReset();
                stream.Position = 0;
                var header = new BinaryWriter(stream, Encoding.ASCII, leaveOpen: true);
                header.Write(Magic);
                header.Write(bytesPerToken);
                header.Write(0);
                header.Write(count);
                header.Write((long)documents.Count);
                header.Write(hash);
                header.Flush();
            });
        }

        /// <summary>Opens and verifies a token file; throws <see cref="UserError"/> naming the problem if it is not intact.</summary>
        public static TokenStream Open(string path)
        {
            if (!File.Exists(path)) throw new UserError($"token cache '{path}' is missing; run 'lnsrun data prepare' or delete the cache directory to rebuild it");
            long length = new FileInfo(path).Length;
            if (length < HeaderSize) throw Corrupt(path, "shorter than its header");
            byte[] header = new byte[HeaderSize];
            using (var f = File.OpenRead(path)) f.ReadExactly(header);
            if (!header.AsSpan(0, 8).SequenceEqual(Magic)) throw Corrupt(path, "not an LnsDsl token file");
            int bytesPerToken = BitConverter.ToInt32(header, 8);
            long count = BitConverter.ToInt64(header, 16);
            long documents = BitConverter.ToInt64(header, 24);
            if (bytesPerToken is not (2 or 4) || count < 0 || documents < 0 || length != HeaderSize + count * bytesPerToken + (documents + 1) * 8)
                throw Corrupt(path, "its size does not match its header (truncated?)");
            using (var f = File.OpenRead(path))
            {
                f.Position = HeaderSize;
                byte[] hash = SHA256.HashData(f);
                if (!hash.AsSpan().SequenceEqual(header.AsSpan(32, 32))) throw Corrupt(path, "checksum mismatch");
            }
            var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            var starts = new long[documents + 1];
            long startsAt = HeaderSize + count * bytesPerToken;
            for (long i = 0; i <= documents; i++) starts[i] = view.ReadInt64(startsAt + 8 * i);
            return new TokenStream(path, file, view, bytesPerToken, count, starts);
        }

        private static UserError Corrupt(string path, string why)
            => new($"token cache '{path}' is corrupt ({why}); delete it (or its directory) and it will be rebuilt from the text");

        public void Dispose()
        {
            _view.Dispose();
            _file.Dispose();
        }
    }
}
