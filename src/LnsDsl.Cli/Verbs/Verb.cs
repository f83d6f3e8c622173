using System;
using System.IO;
using System.Threading;
using LnsDsl.Cli.Options;

namespace LnsDsl.Cli.Verbs
{
    /// <summary>A verb: its options (properties), the library records they set, and what it does.</summary>
    public abstract class Verb : IAssemblyOption
    {
        public string? Assembly { get; set; }

        /// <summary>The library records whose properties this verb's options set (their defaults are the verb's).</summary>
        public abstract object[] Records();

        public abstract int Run();

        /// <summary>This verb's options that are inputs passed to the library as arguments rather than record settings.</summary>
        public virtual System.Collections.Generic.IReadOnlyCollection<string> Inputs => Array.Empty<string>();

        /// <summary>What every verb does first: load a user's model assembly; set LibTorch's threads where asked.</summary>
        public void Prepare()
        {
            if (Assembly is { } path)
            {
                if (!File.Exists(path)) throw new UserError($"--assembly '{path}' does not exist; give the path of a compiled .dll that declares [TransformerModel] classes");
                if (ModelCatalog.LoadAssembly(path) == 0) throw new UserError($"--assembly '{path}' declares no LnsDsl models (was it built with the LnsDsl generator?)");
            }
            if (this is IDeviceOptions { Threads: > 0 } d) TorchSharp.torch.set_num_threads(d.Threads.Value);
        }

        /// <summary>Runs <paramref name="work"/> with Ctrl+C turned into a cancellation (a second Ctrl+C ends the process).</summary>
        protected static int WithCtrlC(string what, Func<CancellationToken, int> work)
        {
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (cancel.IsCancellationRequested) return;
                e.Cancel = true;
                cancel.Cancel();
                Console.Error.WriteLine($"\ninterrupted: {what} (Ctrl+C again to abort) ...");
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                return work(cancel.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }
    }
}
