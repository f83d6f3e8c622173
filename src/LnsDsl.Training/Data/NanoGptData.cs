using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace LnsDsl.Data
{
    /// <summary>
    /// nanoGPT's pre-tokenised data, <c>nanogpt:DIR</c>: <c>DIR/train.bin</c> and <c>DIR/val.bin</c>, flat arrays of
    /// little-endian uint16 GPT-2 token ids, each document followed by GPT-2's end-of-text (50256), as nanoGPT's
    /// <c>prepare.py</c> writes them. Read with <c>--tokenizer gpt2</c> (the ids are GPT-2's); train.bin is the training
    /// split and val.bin the validation split, read in chunks (bounded memory), documents cut at end-of-text.
    /// </summary>
    public static class NanoGptData
    {
        public const string Prefix = "nanogpt:";
        public const string TrainFile = "train.bin", ValidFile = "val.bin";

        /// <summary>A run of ids without end-of-text is cut into documents of this many (memory stays bounded; packing
        /// joins them again). Character-level nanoGPT data (shakespeare_char, ids below 65) is not GPT-2's and cannot be
        /// told apart by its ids: read it as GPT-2 only if it is.</summary>
        public const int MaxDocument = 1 << 20;

        /// <summary>Whether <paramref name="source"/> is <c>nanogpt:DIR</c>.</summary>
        public static bool Is(string? source) => source?.StartsWith(Prefix, StringComparison.Ordinal) == true;

        /// <summary>The directory of <c>nanogpt:DIR</c>, checked.</summary>
        public static string DirectoryOf(string source)
        {
            string dir = source[Prefix.Length..];
            foreach (var name in new[] { TrainFile, ValidFile })
            {
                string file = Path.Combine(dir, name);
                if (!File.Exists(file)) throw new UserError($"'{file}' does not exist; nanogpt:DIR needs DIR/train.bin and DIR/val.bin (uint16 GPT-2 ids, as nanoGPT's prepare.py writes them)");
                if (new FileInfo(file).Length % 2 != 0) throw new UserError($"'{file}' has an odd number of bytes: not an array of uint16 token ids");
            }
            return Path.GetFullPath(dir);
        }

        /// <summary>SHA-256 of both files' bytes.</summary>
        public static string Fingerprint(string dir) => Corpus.FileFingerprint("nanogpt", new[] { Path.Combine(dir, TrainFile), Path.Combine(dir, ValidFile) });

        /// <summary>
        /// The documents of one file: its ids cut at <paramref name="endOfText"/> (which is dropped; a trailing document
        /// without one is kept), with the bytes read so far. Ids at or above <paramref name="vocabSize"/> are refused.
        /// </summary>
        public static IEnumerable<(int[] Ids, long BytesRead)> Documents(string file, int endOfText, int vocabSize)
        {
            using var stream = File.OpenRead(file);
            var buffer = new byte[1 << 20];
            var current = new List<int>();
            long read = 0;
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (n % 2 != 0) n += stream.Read(buffer, n, 1); // an odd read: take the other half of the last id
                read += n;
                for (int i = 0; i + 1 < n; i += 2)
                {
                    int id = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(i));
                    if (id >= vocabSize) throw new UserError($"'{file}' holds token id {id} at position {(read - n + i) / 2}, beyond GPT-2's {vocabSize} ids; is it nanoGPT's GPT-2 data (--tokenizer gpt2)?");
                    if (id == endOfText || current.Count == MaxDocument)
                    {
                        yield return (current.ToArray(), read);
                        current.Clear();
                    }
                    if (id != endOfText) current.Add(id);
                }
            }
            if (current.Count > 0) yield return (current.ToArray(), read);
        }
    }
}
