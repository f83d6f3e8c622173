using System.IO;

namespace LnsDsl.Interop.PyTorch
{
    /// <summary>
    /// <c>train.py</c>: the fixed script that continues an LnsDsl run in PyTorch (one process, or DDP/FSDP under
    /// torchrun) beside an export's generated <c>model.py</c>, drawing exactly lnsrun's batches. Its docstring
    /// documents the export directory it reads (options.json, config.json, model.safetensors) and its flags.
    /// </summary>
    public static class TrainScript
    {
        /// <summary>The file name it is written under.</summary>
        public const string FileName = "train.py";

        private const string ResourceName = "LnsDsl.Interop.PyTorch.train.py";

        /// <summary>The script's text (an embedded resource of this assembly).</summary>
        public static string Source { get; } = Read();

        /// <summary>Writes the script into <paramref name="directory"/>; the path written.</summary>
        public static string Write(string directory)
        {
            Directory.CreateDirectory(directory);
            string path = Path.Combine(directory, FileName);
            File.WriteAllText(path, Source);
            return path;
        }

        private static string Read()
        {
            using var stream = typeof(TrainScript).Assembly.GetManifestResourceStream(ResourceName)
                ?? throw new FileNotFoundException($"embedded resource {ResourceName} is missing from {typeof(TrainScript).Assembly.GetName().Name}");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }
}
