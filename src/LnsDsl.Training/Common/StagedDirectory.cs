using System;
using System.IO;
using System.Linq;

namespace LnsDsl
{
    /// <summary>
    /// A directory written complete or not at all (checkpoints, exports, conversions, token caches, fetched corpora):
    /// the files go into a hidden sibling <c>.NAME.partial-GUID</c>, which is renamed into place at the end and removed
    /// on any failure, so a crash or an error never leaves a half-written NAME, and a reader that lists NAME's parent
    /// for complete entries never sees the staging one.
    /// </summary>
    public static class StagedDirectory
    {
        /// <summary>Refuses a target that is a file or a non-empty directory (nothing is written).</summary>
        public static void CheckNewOrEmpty(string directory, string action = "export")
        {
            ArgumentNullException.ThrowIfNull(directory);
            if (File.Exists(directory))
                throw new UserError($"'{directory}' is a file; {action} into a new or empty directory (nothing was written)");
            if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
                throw new UserError($"'{directory}' is not empty; {action} into a new or empty directory (nothing was written: LnsDsl never overwrites)");
        }

        /// <summary>
        /// Runs <paramref name="write"/> on a staging directory, then moves it to <paramref name="directory"/>. Without
        /// <paramref name="replace"/> the target must be new or empty (checked before and again before the move); with it
        /// an existing target is replaced (a cache rebuilt, a checkpoint of the same step rewritten).
        /// </summary>
        public static void Write(string directory, Action<string> write, bool replace = false, string action = "export")
        {
            if (!replace) CheckNewOrEmpty(directory, action);
            string full = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
            string parent = Path.GetDirectoryName(full)!;
            Directory.CreateDirectory(parent);
            string staging = Path.Combine(parent, $".{Path.GetFileName(full)}.partial-{Guid.NewGuid():N}");
            try
            {
                Directory.CreateDirectory(staging);
                write(staging);
                if (Directory.Exists(full))
                {
                    if (!replace) CheckNewOrEmpty(full, action);
                    Directory.Delete(full, recursive: replace);
                }
                Directory.Move(staging, full);
            }
            finally
            {
                if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            }
        }
    }
}
