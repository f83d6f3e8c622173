using System;
using System.IO;
using System.Linq;

namespace LnsDsl.Interop
{
    /// <summary>
    /// An export directory written complete or not at all: the target must be new or empty (anything already there is
    /// left untouched), the files are written into a temporary sibling, which is moved into place at the end.
    /// </summary>
    internal static class ExportDirectory
    {
        /// <summary>Refuses a target that exists and is not empty, or is a file (nothing written).</summary>
        public static void CheckTarget(string directory)
        {
            ArgumentNullException.ThrowIfNull(directory);
            if (File.Exists(directory))
                throw new UserError($"'{directory}' is a file; export into a new or empty directory (nothing was written)");
            if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
                throw new UserError($"'{directory}' is not empty; export into a new or empty directory (nothing was written)");
        }

        /// <summary>Runs <paramref name="write"/> on a temporary directory, then moves it to <paramref name="directory"/>.</summary>
        public static void Write(string directory, Action<string> write)
        {
            CheckTarget(directory);
            string full = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
            string temp = full + ".partial-" + Guid.NewGuid().ToString("N");
            try
            {
                Directory.CreateDirectory(temp);
                write(temp);
                if (Directory.Exists(full)) Directory.Delete(full); // empty, checked above
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                Directory.Move(temp, full);
            }
            finally
            {
                if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            }
        }
    }
}
