using System;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Data
{
    /// <summary>Input/target batches cut from a token stream. Targets of padding are <see cref="Ignore"/>.</summary>
    public static class Batches
    {
        /// <summary>The target value cross-entropy ignores (padding in document mode).</summary>
        public const long Ignore = -100;

        /// <summary>The generator of step <paramref name="step"/>'s batch: it depends on the seed and the step only, so a
        /// resumed run (or another program that follows this rule) draws the same data.</summary>
        public static Random ForStep(long seed, int step)
        {
            // SplitMix64 of (seed, step): the same in every process (unlike HashCode, which is randomised per process).
            ulong z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)step + 0x4C4E53UL);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            z ^= z >> 31;
            return new Random(unchecked((int)z ^ (int)(z >> 32)));
        }

        /// <summary>Random training windows (pack) or random documents (document), drawn with <paramref name="random"/>.</summary>
        public static (Tensor Input, Tensor Target) Sample(TokenStream stream, Packing packing, int batch, int seq, int endOfText, Random random)
        {
            var x = new long[batch * seq];
            var y = new long[batch * seq];
            var window = new long[seq + 1];
            for (int b = 0; b < batch; b++)
            {
                if (packing == Packing.Pack)
                {
                    long start = random.NextInt64(0, stream.Count - seq);
                    stream.Read(start, window);
                    Array.Copy(window, 0, x, b * seq, seq);
                    Array.Copy(window, 1, y, b * seq, seq);
                }
                else
                {
                    FillDocument(stream, random.Next(stream.Documents), seq, endOfText, x, y, b * seq);
                }
            }
            return (tensor(x).reshape(batch, seq), tensor(y).reshape(batch, seq));
        }

        /// <summary>The fixed validation batches: consecutive windows (pack) or the first documents (document).</summary>
        public static (Tensor Input, Tensor Target) Fixed(TokenStream stream, Packing packing, int index, int batch, int seq, int endOfText)
        {
            var x = new long[batch * seq];
            var y = new long[batch * seq];
            var window = new long[seq + 1];
            for (int b = 0; b < batch; b++)
            {
                long item = (long)index * batch + b;
                if (packing == Packing.Pack)
                {
                    stream.Read(item * seq, window);
                    Array.Copy(window, 0, x, b * seq, seq);
                    Array.Copy(window, 1, y, b * seq, seq);
                }
                else
                {
                    FillDocument(stream, (int)item, seq, endOfText, x, y, b * seq);
                }
            }
            return (tensor(x).reshape(batch, seq), tensor(y).reshape(batch, seq));
        }

        /// <summary>How many fixed validation batches the stream holds.</summary>
        public static int FixedCount(TokenStream stream, Packing packing, int batch, int seq)
            => (int)Math.Min(int.MaxValue, (packing == Packing.Pack ? (stream.Count - 1) / seq : stream.Documents) / batch);

        // One document: its tokens then end-of-text, truncated to seq + 1 or padded (inputs with end-of-text,
        // targets with Ignore).
        private static void FillDocument(TokenStream stream, int index, int seq, int endOfText, long[] x, long[] y, int offset)
        {
            var (start, length) = stream.Document(index);
            int n = (int)Math.Min(length + 1, seq + 1); // + its end-of-text
            var tokens = new long[seq + 1];
            stream.Read(start, tokens.AsSpan(0, n));
            for (int i = 0; i < seq; i++)
            {
                x[offset + i] = i < n ? tokens[i] : endOfText;
                y[offset + i] = i + 1 < n ? tokens[i + 1] : Ignore;
            }
        }
    }
}
