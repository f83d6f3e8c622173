using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace LnsDsl
{
    /// <summary>Implemented by every generated model class.</summary>
    public interface IGeneratedModel
    {
        /// <summary>The resolved architecture (the same object as an instance's <see cref="TransformerModule.Spec"/>).</summary>
        static abstract ModelSpec Architecture { get; }

        /// <summary>A new model initialised with the given seed.</summary>
        static abstract TransformerModule Create(long seed);
    }

    /// <summary>Emitted by the generator for each model: <c>[assembly: GeneratedModel(typeof(MyModel))]</c>.</summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    public sealed class GeneratedModelAttribute : Attribute
    {
        public GeneratedModelAttribute(Type modelType) => ModelType = modelType;

        public Type ModelType { get; }
    }

    /// <summary>A catalogue entry.</summary>
    public sealed record ModelEntry(string Name, Type Type, ModelSpec Spec, Func<long, TransformerModule> Create);

    /// <summary>
    /// Finds generated models by class name at run time: those in every loaded assembly, in assemblies
    /// loaded later (for example a user's compiled models, via <see cref="LoadAssembly"/>), and in any
    /// assembly given to <see cref="Register"/>.
    /// </summary>
    public static class ModelCatalog
    {
        private static readonly ConcurrentDictionary<Assembly, bool> Scanned = new();
        private static readonly ConcurrentDictionary<string, ModelEntry> ByFullName = new(StringComparer.Ordinal);
        private static int _hooked;

        /// <summary>Every known model, sorted by name.</summary>
        public static IReadOnlyList<ModelEntry> All
        {
            get
            {
                ScanLoaded();
                return ByFullName.Values.OrderBy(e => e.Name, StringComparer.Ordinal).ThenBy(e => e.Type.FullName, StringComparer.Ordinal).ToList();
            }
        }

        /// <summary>Registers the models of an assembly (idempotent); returns how many it declares.</summary>
        public static int Register(Assembly assembly)
        {
            int count = 0;
            foreach (var attribute in assembly.GetCustomAttributes<GeneratedModelAttribute>())
            {
                var entry = EntryFor(attribute.ModelType);
                ByFullName[entry.Type.FullName ?? entry.Name] = entry;
                count++;
            }
            Scanned[assembly] = true;
            return count;
        }

        /// <summary>Loads a compiled assembly from a path and registers its models.</summary>
        public static int LoadAssembly(string path)
        {
            var assembly = Assembly.LoadFrom(System.IO.Path.GetFullPath(path));
            return Register(assembly);
        }

        /// <summary>
        /// The model with this class name (or full name), compared case-insensitively when the exact name is
        /// unknown. Throws <see cref="UnknownModelException"/> (a <see cref="KeyNotFoundException"/>) naming the closest known models otherwise.
        /// </summary>
        public static ModelEntry Get(string name)
        {
            if (TryGet(name, out var entry)) return entry;
            var suggestions = Suggest(name, 3);
            string hint = suggestions.Count > 0 ? $" Did you mean {string.Join(", ", suggestions)}?" : "";
            throw new UnknownModelException($"No model named '{name}' is known ({All.Count} registered).{hint}");
        }

        /// <summary>Looks a model up by class name or full name.</summary>
        public static bool TryGet(string name, out ModelEntry entry)
        {
            var all = All;
            var matches = all.Where(e => e.Name == name || e.Type.FullName == name).ToList();
            if (matches.Count == 0)
                matches = all.Where(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)
                                      || string.Equals(e.Type.FullName, name, StringComparison.OrdinalIgnoreCase)).ToList();
            if (matches.Count > 1)
                throw new InvalidOperationException($"'{name}' is ambiguous: {string.Join(", ", matches.Select(m => m.Type.FullName))}. Use the full name.");
            entry = matches.Count == 1 ? matches[0] : null!;
            return matches.Count == 1;
        }

        /// <summary>The known names closest to <paramref name="name"/> (edit distance, case-insensitive).</summary>
        public static IReadOnlyList<string> Suggest(string name, int count)
            => All.Select(e => (e.Name, Distance: Levenshtein(e.Name.ToLowerInvariant(), name.ToLowerInvariant())))
                  .Where(p => p.Distance <= Math.Max(3, name.Length / 2))
                  .OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal)
                  .Take(count).Select(p => p.Name).ToList();

        private static void ScanLoaded()
        {
            if (System.Threading.Interlocked.Exchange(ref _hooked, 1) == 0)
                AppDomain.CurrentDomain.AssemblyLoad += (_, e) => Register(e.LoadedAssembly);
            foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
                if (!Scanned.ContainsKey(assembly) && !assembly.IsDynamic)
                    Register(assembly);
        }

        private static ModelEntry EntryFor(Type type)
        {
            if (!typeof(TransformerModule).IsAssignableFrom(type))
                throw new InvalidOperationException($"{type.FullName} is registered as a model but does not derive from {nameof(TransformerModule)}.");
            var specProperty = type.GetProperty("Architecture", BindingFlags.Public | BindingFlags.Static)
                ?? throw new InvalidOperationException($"{type.FullName} has no static Architecture property; was it built by the LnsDsl generator?");
            var create = type.GetMethod("Create", BindingFlags.Public | BindingFlags.Static, new[] { typeof(long) })
                ?? throw new InvalidOperationException($"{type.FullName} has no static Create(long) method; was it built by the LnsDsl generator?");
            var spec = (ModelSpec)specProperty.GetValue(null)!;
            var factory = (Func<long, TransformerModule>)Delegate.CreateDelegate(typeof(Func<long, TransformerModule>), create);
            return new ModelEntry(type.Name, type, spec, factory);
        }

        private static int Levenshtein(string a, string b)
        {
            var d = new int[b.Length + 1];
            for (int j = 0; j <= b.Length; j++) d[j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                int previous = d[0];
                d[0] = i;
                for (int j = 1; j <= b.Length; j++)
                {
                    int temp = d[j];
                    d[j] = Math.Min(Math.Min(d[j] + 1, d[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                    previous = temp;
                }
            }
            return d[b.Length];
        }
    }

    /// <summary>No model of that name is in the catalogue (the message names the closest ones).</summary>
    public sealed class UnknownModelException : KeyNotFoundException
    {
        public UnknownModelException(string message) : base(message) { }
    }
}
