using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;

namespace LnsDsl
{
    /// <summary>
    /// Field-by-field comparison of two resolved architectures: what a checkpoint records of its model against the
    /// model it is loaded into. Every <see cref="ModelSpec"/> property takes part except the names (a model may be
    /// renamed), the display label and the parameter count (both derived), so a field added to the spec is compared
    /// without anyone remembering to add it here.
    /// </summary>
    public static class ArchitectureComparison
    {
        private static readonly HashSet<string> NotCompared = new(StringComparer.Ordinal)
        {
            nameof(ModelSpec.Name), nameof(ModelSpec.FullName), nameof(ModelSpec.PlacementLabel), nameof(ModelSpec.ParameterCount),
            nameof(ModelSpec.Blocks),
        };

        /// <summary>One line per differing field: <c>RopeTheta: 10000 (saved) vs 500000 (model)</c>; blocks as <c>Blocks[3].NormScale</c>.</summary>
        public static IReadOnlyList<string> Differences(ModelSpec saved, ModelSpec model)
        {
            var list = new List<string>();
            foreach (var p in typeof(ModelSpec).GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.MetadataToken))
            {
                if (NotCompared.Contains(p.Name)) continue;
                Compare(p.Name, p.GetValue(saved), p.GetValue(model), list);
            }
            if (saved.Blocks.Count == model.Blocks.Count)
            {
                for (int i = 0; i < saved.Blocks.Count; i++)
                {
                    BlockSpec a = saved.Blocks[i], b = model.Blocks[i];
                    Compare($"Blocks[{i + 1}].{nameof(BlockSpec.Placement)}", a.Placement, b.Placement, list);
                    Compare($"Blocks[{i + 1}].{nameof(BlockSpec.NormScale)}", a.NormScale, b.NormScale, list);
                    Compare($"Blocks[{i + 1}].{nameof(BlockSpec.ResidualAlpha)}", a.ResidualAlpha, b.ResidualAlpha, list);
                    foreach (var p in typeof(InitStds).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.Name != "EqualityContract"))
                        Compare($"Blocks[{i + 1}].Init.{p.Name}", p.GetValue(a.Init), p.GetValue(b.Init), list);
                }
            }
            else
            {
                Compare("Blocks.Count", saved.Blocks.Count, model.Blocks.Count, list);
            }
            return list;
        }

        private static void Compare(string name, object? saved, object? model, List<string> list)
        {
            if (!Equals(saved, model)) list.Add($"{name}: {Show(saved)} (saved) vs {Show(model)} (model)");
        }

        private static string Show(object? value) => value switch
        {
            null => "(none)",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
    }
}
