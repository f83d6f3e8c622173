using System;
using System.IO;
using System.Linq;
using System.Text;
using Parquet;
using Parquet.Schema;

/// <summary>
/// A generated Parquet corpus of a given size for the bounded-memory measurement of the streamed token cache
/// (docs/PERFORMANCE.md): rows of pseudo-random words in a <c>text</c> column, 50,000 rows per row group, written
/// until the text reaches the size asked for (uncompressed UTF-8 megabytes).
/// </summary>
static class ParquetCorpus
{
    public static int Write(string path, long megabytes)
    {
        var words = "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there one all we their".Split(' ');
        var random = new Random(1);
        var field = new DataField<string>("text");
        long target = megabytes * 1_000_000, written = 0;
        int rows = 0;
        using var stream = File.Create(path);
        var writer = ParquetWriter.CreateAsync(new ParquetSchema(field), stream).GetAwaiter().GetResult();
        var sb = new StringBuilder();
        while (written < target)
        {
            var group = new string[50_000];
            for (int r = 0; r < group.Length; r++)
            {
                sb.Clear();
                int length = 200 + random.Next(1800);
                while (sb.Length < length) sb.Append(words[random.Next(words.Length)]).Append(random.Next(10) == 0 ? ". " : " ");
                group[r] = sb.ToString();
                written += group[r].Length;
            }
            using var rowGroup = writer.CreateRowGroup();
            rowGroup.WriteAsync(field, group, null).GetAwaiter().GetResult();
            rows += group.Length;
            Console.Error.Write($"\r{written / 1e6:N0} MB of text, {rows:N0} rows");
        }
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Console.Error.WriteLine($"\r{path}: {written / 1e6:N0} MB of text in {rows:N0} rows, {new FileInfo(path).Length / 1e6:N0} MB on disk");
        return 0;
    }
}
