using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using CommandLine;

namespace LnsDsl.Cli.Options
{
    /// <summary>
    /// The bridge between a verb's options and the library's option records: an option property sets the record
    /// property of the same name when it was given; the record keeps its own default otherwise. The reverse map
    /// (a record property to its flag) renders the library's <see cref="SettingError"/>s in the CLI's words.
    /// </summary>
    public static class Settings
    {
        /// <summary>Options that are inputs of the CLI itself, not settings of a library record (a verb adds its own: <c>Verb.Inputs</c>).</summary>
        public static readonly IReadOnlySet<string> CliOnly = new HashSet<string>(StringComparer.Ordinal)
        {
            "Assembly", "TextColumn", "Model", "Models", "Checkpoint", "Checkpoints", "Hf", "HuggingFace", "Prompt", "Action", "Json", "Preset", "NoUnfused", "Threads",
        };

        /// <summary>Every option property of a verb type, with its attribute (declared on the verb or on an interface it implements).</summary>
        public static IEnumerable<(PropertyInfo Property, OptionAttribute Option)> Options(Type verb)
            => verb.GetInterfaces().Append(verb).SelectMany(t => t.GetProperties())
                .Select(p => (Property: p, Option: p.GetCustomAttribute<OptionAttribute>()))
                .Where(p => p.Option is not null).Select(p => (p.Property, p.Option!));

        /// <summary><paramref name="record"/> with every given option of <paramref name="verb"/> whose name it has.</summary>
        public static T Apply<T>(object verb, T record) where T : class
        {
            var clone = (T)typeof(T).GetMethod("<Clone>$")!.Invoke(record, null)!;
            foreach (var (property, _) in Options(verb.GetType()))
            {
                var target = typeof(T).GetProperty(property.Name);
                if (target is null || !target.CanWrite) continue;
                object? value = Value(verb, property);
                if (value is null) continue;
                if (value is bool flag && !flag) continue; // a switch not given
                if (property.Name == "Data" && value is string source)
                {
                    // Parquet's text column travels with the data (PATH#COLUMN), so that every later verb reads the same text.
                    if (verb.GetType().GetProperty("TextColumn")?.GetValue(verb) is string { Length: > 0 } column) source = LnsDsl.Data.Corpus.WithColumn(source, column);
                    value = LnsDsl.Data.Corpus.Normalize(source); // runs record where their data is, absolutely
                }
                target.SetValue(clone, Convert(value, target.PropertyType));
            }
            return clone;
        }

        /// <summary>The flag that sets a record property (<c>Steps</c> → <c>--steps</c>), or the property's name.</summary>
        public static string Flag(Type verb, string setting)
            => Options(verb).Where(p => p.Property.Name == setting).Select(p => "--" + p.Option.LongName).FirstOrDefault() ?? setting;

        /// <summary>The default of every option of <paramref name="verb"/> found in <paramref name="records"/> (first match wins).</summary>
        public static IEnumerable<string> Defaults(Type verb, params object[] records)
        {
            foreach (var (property, option) in Options(verb).OrderBy(p => p.Option.LongName, StringComparer.Ordinal))
            {
                foreach (var record in records)
                {
                    var source = record.GetType().GetProperty(property.Name);
                    if (source is null) continue;
                    yield return $"--{option.LongName} {Show(source.GetValue(record))}";
                    break;
                }
            }
        }

        private static object? Value(object verb, PropertyInfo property)
        {
            object? value = property.GetValue(verb);
            if (value is string s && s.Length == 0) return null;
            if (value is IEnumerable e and not string && !e.Cast<object>().Any()) return null;
            return value;
        }

        private static object? Convert(object value, Type target)
        {
            var type = Nullable.GetUnderlyingType(target) ?? target;
            if (type.IsInstanceOfType(value)) return value;
            if (value is IEnumerable<double> doubles) return doubles.ToList();
            if (value is IEnumerable<int> ints) return ints.ToList();
            if (value is IEnumerable<string> strings) return strings.ToList();
            return System.Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
        }

        private static string Show(object? value) => value switch
        {
            null => "(none)",
            string s when s.Length == 0 => "(auto)",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture).ToLowerInvariant(),
            IEnumerable e and not string => string.Join(",", e.Cast<object>().Select(Show)),
            _ => value.ToString()!.ToLowerInvariant(),
        };
    }
}
