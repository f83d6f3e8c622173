using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Parquet;
using Parquet.Schema;

namespace LnsDsl.Data
{
    /// <summary>
    /// Text in Parquet files (read with Parquet.Net): a <c>.parquet</c> file, or a directory of them such as a Hugging Face
    /// dataset (its <c>data/train-*.parquet</c> shards where there are any, else every <c>.parquet</c> file under it, in
    /// name order). One document per row of a string column, <c>text</c> unless the source names another as
    /// <c>PATH#COLUMN</c> (<c>--text-column</c>). Read row group by row group, so memory holds one row group's column, never
    /// the corpus; the fingerprint is the SHA-256 of the column name and the files' bytes.
    /// </summary>
    public sealed class ParquetText
    {
        public const string DefaultColumn = "text";

        private ParquetText(string path, string column, IReadOnlyList<string> files)
        {
            Path = path;
            Column = column;
            Files = files;
            TotalBytes = files.Sum(f => new FileInfo(f).Length);
        }

        /// <summary>The file or directory.</summary>
        public string Path { get; }
        /// <summary>The text column.</summary>
        public string Column { get; }
        /// <summary>The Parquet files read, in order.</summary>
        public IReadOnlyList<string> Files { get; }
        /// <summary>Their total size.</summary>
        public long TotalBytes { get; }

        /// <summary>Splits <c>PATH#COLUMN</c>; the column is <see cref="DefaultColumn"/> without one.</summary>
        public static (string Path, string Column) Split(string source)
        {
            int hash = source.LastIndexOf('#');
            return hash > 0 && hash < source.Length - 1 && !File.Exists(source) && !Directory.Exists(source)
                ? (source[..hash], source[(hash + 1)..])
                : (source, DefaultColumn);
        }

        /// <summary>Whether <paramref name="source"/> names Parquet data: a <c>.parquet</c> file or a directory holding one.</summary>
        public static bool Is(string? source)
        {
            if (source is null) return false;
            var (path, _) = Split(source);
            if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) && File.Exists(path)) return true;
            // A directory of Parquet files (not a text directory with a stray .parquet in it).
            return Directory.Exists(path) && Shards(path).Count > 0
                   && !Directory.EnumerateFiles(path).Any(f => f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>A directory's shards, the first of: data/train*.parquet, train*.parquet, data/*.parquet, *.parquet (a Hugging Face
        /// dataset's layout; one configuration: a repository with several keeps each in a subdirectory, which is given instead).</summary>
        private static List<string> Shards(string directory)
        {
            string data = System.IO.Path.Combine(directory, "data");
            foreach (var (dir, pattern) in new[] { (data, "train*.parquet"), (directory, "train*.parquet"), (data, "*.parquet"), (directory, "*.parquet") })
            {
                if (!Directory.Exists(dir)) continue;
                var files = Directory.GetFiles(dir, pattern).Select(System.IO.Path.GetFullPath).OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (files.Count > 0) return files;
            }
            return new List<string>();
        }

        /// <summary>The Parquet source <paramref name="source"/> names.</summary>
        public static ParquetText Open(string source)
        {
            var (path, column) = Split(source);
            if (File.Exists(path)) return new ParquetText(path, column, new[] { System.IO.Path.GetFullPath(path) });
            if (!Directory.Exists(path)) throw new UserError($"Parquet data '{path}' does not exist; give a .parquet file or a directory of them (a Hugging Face dataset directory)");
            var files = Shards(path);
            if (files.Count == 0) throw new UserError($"'{path}' holds no .parquet files in it or in data/; a Hugging Face dataset keeps them under data/ (data/train-00000-of-00001.parquet), or under one directory per configuration: give that directory");
            return new ParquetText(path, column, files);
        }

        /// <summary>The rows of the text column over all files (from the files' metadata, before anything is read).</summary>
        public long Rows()
        {
            long rows = 0;
            foreach (var file in Files)
            {
                using var open = OpenReader(file);
                var reader = open.Reader;
                for (int g = 0; g < reader.RowGroupCount; g++) rows += reader.OpenRowGroupReader(g).RowCount;
            }
            return rows;
        }

        /// <summary>SHA-256 of the column name, each file's name and its bytes, streamed.</summary>
        public string Fingerprint() => Corpus.FileFingerprint("parquet|" + Column, Files);

        /// <summary>
        /// Every row's text, in order, with the input bytes read so far (the files before this one, plus this file's share
        /// of row groups done): one row group's column in memory at a time. Null and empty cells are documents too
        /// (the caller skips them), so that row numbers stay the file's.
        /// </summary>
        public IEnumerable<(string? Text, long BytesRead)> Documents()
        {
            long before = 0;
            foreach (var file in Files)
            {
                long size = new FileInfo(file).Length;
                using var open = OpenReader(file);
                var reader = open.Reader;
                var field = reader.Schema.GetDataFields().FirstOrDefault(f => f.Name == Column)
                    ?? throw new UserError($"'{file}' has no column '{Column}' (it has: {string.Join(", ", reader.Schema.GetDataFields().Select(f => f.Name))}); name the text column with --text-column NAME");
                if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>)) // Parquet.Net's view of a UTF-8 column
                    throw new UserError($"column '{Column}' of '{file}' holds {field.ClrType.Name}, not text; name the text column with --text-column NAME");
                for (int g = 0; g < reader.RowGroupCount; g++)
                {
                    var group = reader.OpenRowGroupReader(g);
                    var values = new string?[group.RowCount];
                    try { group.ReadAsync(field, values.AsMemory()!, null).AsTask().GetAwaiter().GetResult(); }
                    catch (Exception e) when (e is not UserError) { throw new UserError($"'{file}' could not be read (row group {g + 1} of {reader.RowGroupCount}: {e.Message}); is it a complete Parquet file?"); }
                    long done = before + size * (g + 1) / reader.RowGroupCount;
                    foreach (var text in values) yield return (text, done);
                }
                before += size;
            }
        }

        private static OpenFile OpenReader(string file)
        {
            try { return new OpenFile(ParquetReader.CreateAsync(file).GetAwaiter().GetResult()); }
            catch (Exception e) when (e is not UserError) { throw new UserError($"'{file}' is not a readable Parquet file ({e.Message})"); }
        }

        /// <summary>A reader disposed synchronously (Parquet.Net's readers are only asynchronously disposable).</summary>
        private sealed class OpenFile(ParquetReader reader) : IDisposable
        {
            public ParquetReader Reader { get; } = reader;
            public void Dispose() => Reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
