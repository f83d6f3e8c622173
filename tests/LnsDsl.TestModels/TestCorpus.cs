using System;
using System.IO;
using System.Linq;

namespace LnsDsl.Tests
{
    /// <summary>The small corpora the training and CLI tests write: documents of words drawn at random from one sentence.</summary>
    public static class TestCorpus
    {
        private static readonly string[] Words = "the deep layers of a transformer should not collapse into identity maps when the norm output is scaled by depth".Split(' ');

        /// <summary>
        /// Writes <c>doc00.txt</c>, <c>doc01.txt</c>, ... into <paramref name="dir"/> (24 documents; document d has
        /// <paramref name="length"/>(d) words drawn with <c>new Random(seed)</c>) and returns it; a directory already
        /// there is returned as it is (the same arguments write the same files).
        /// </summary>
        public static string RandomWords(string dir, int seed, Func<int, int> length, int documents = 24)
        {
            if (Directory.Exists(dir)) return dir;
            Directory.CreateDirectory(dir);
            var random = new Random(seed);
            for (int d = 0; d < documents; d++)
                File.WriteAllText(Path.Combine(dir, $"doc{d:D2}.txt"), string.Join(" ", Enumerable.Range(0, length(d)).Select(_ => Words[random.Next(Words.Length)])) + ".\n");
            return dir;
        }
    }
}
