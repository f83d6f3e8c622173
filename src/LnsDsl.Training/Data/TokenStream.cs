using System;
using System.Buffers.Binary;
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
            => AtomicFile.Write(path, stream =>
            {
                var writer = new TokenStreamWriter(stream, endOfText, vocabSize);
                foreach (var d in documents) writer.Add(d);
                writer.Complete();
            });

        internal const int Header = HeaderSize;
        internal static ReadOnlySpan<byte> MagicBytes => Magic;

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

    /// <summary>
    /// Writes a <see cref="TokenStream"/> file document by document (the one writer of the format): the tokens go to the
    /// stream as they come, the document offsets stay in memory (8 bytes a document), and <see cref="Complete"/> appends
    /// them and fills in the header (counts and the payload's SHA-256). Memory is bounded by one document, not the corpus.
    /// </summary>
    public sealed class TokenStreamWriter
    {
        private readonly Stream _stream;
        private readonly int _endOfText, _bytesPerToken;
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly List<long> _starts = new() { 0 };
        private readonly byte[] _buffer = new byte[1 << 20];
        private int _used;

        /// <param name="stream">A new, empty, seekable stream (a staging file).</param>
        public TokenStreamWriter(Stream stream, int endOfText, int vocabSize)
        {
            _stream = stream;
            _endOfText = endOfText;
            _bytesPerToken = vocabSize <= ushort.MaxValue + 1 ? 2 : 4;
            stream.Write(new byte[TokenStream.Header]);
        }

        /// <summary>Tokens written so far, end-of-text separators included.</summary>
        public long Count => _starts[^1];

        /// <summary>Documents written so far.</summary>
        public int Documents => _starts.Count - 1;

        /// <summary>Appends one document and its end-of-text token.</summary>
        public void Add(ReadOnlySpan<int> document)
        {
            foreach (int id in document) Token(id);
            Token(_endOfText);
            _starts.Add(_starts[^1] + document.Length + 1);
        }

        private void Token(int id)
        {
            if (_used + 4 > _buffer.Length) Flush();
            if (_bytesPerToken == 2) BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_used), (ushort)id);
            else BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_used), (uint)id);
            _used += _bytesPerToken;
        }

        private void Flush()
        {
            _sha.AppendData(_buffer, 0, _used);
            _stream.Write(_buffer, 0, _used);
            _used = 0;
        }

        /// <summary>Writes the document offsets and the header; the stream then holds a complete token file.</summary>
        public void Complete()
        {
            foreach (long start in _starts)
            {
                if (_used + 8 > _buffer.Length) Flush();
                BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_used), start);
                _used += 8;
            }
            Flush();
            byte[] hash = _sha.GetHashAndReset();
            _stream.Position = 0;
            var header = new BinaryWriter(_stream, Encoding.ASCII, leaveOpen: true);
            header.Write(TokenStream.MagicBytes);
            header.Write(_bytesPerToken);
            header.Write(0);
            header.Write(Count);
            header.Write((long)Documents);
            header.Write(hash);
            header.Flush();
            _stream.Flush();
        }
    }
}
