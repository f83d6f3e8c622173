using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl.Interop
{
    /// <summary>A checkpoint's tensors (one file or shards), read one at a time (<see cref="SafeTensors.OpenCheckpoint"/>).</summary>
    public sealed class SafeTensorsCheckpoint : IDisposable
    {
        private readonly Dictionary<string, (string Path, SafeTensorsHeader Header, SafeTensorsEntry Entry)> _entries = new(StringComparer.Ordinal);
        private readonly Dictionary<string, SafeFileHandle> _handles = new(StringComparer.Ordinal);

        internal SafeTensorsCheckpoint(IEnumerable<(string Path, SafeTensorsHeader Header)> files)
        {
            var names = new List<string>();
            foreach (var (path, header) in files)
                foreach (var entry in header.Entries)
                {
                    _entries[entry.Name] = (path, header, entry);
                    names.Add(entry.Name);
                }
            Names = names;
        }

        /// <summary>Every tensor's name, in file order and then data order.</summary>
        public IReadOnlyList<string> Names { get; }

        public bool Contains(string name) => _entries.ContainsKey(name);

        /// <summary>A tensor's stored shape (no data read).</summary>
        public IReadOnlyList<long> ShapeOf(string name) => Entry(name).Entry.Shape;

        /// <summary>A tensor's stored dtype name (F32, BF16, ...).</summary>
        public string DtypeOf(string name) => Entry(name).Entry.Dtype;

        /// <summary>A new CPU tensor with the stored bytes of <paramref name="name"/> (the caller disposes it).</summary>
        public Tensor Read(string name)
        {
            var (path, header, entry) = Entry(name);
            if (!_handles.TryGetValue(path, out var handle)) _handles[path] = handle = SafeTensors.OpenForReading(path);
            return SafeTensors.ReadTensor(path, handle, header, entry);
        }

        private (string Path, SafeTensorsHeader Header, SafeTensorsEntry Entry) Entry(string name)
            => _entries.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"the checkpoint has no tensor '{name}'");

        public void Dispose()
        {
            foreach (var h in _handles.Values) h.Dispose();
            _handles.Clear();
        }
    }
}
