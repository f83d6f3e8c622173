using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace LnsDsl
{
    /// <summary>The catalogue as a table (<c>lnsrun list</c>): a row per model, its placement in <see cref="ModelSpec.PlacementLabel"/>'s words.</summary>
    public static class CatalogTable
    {
        public static string Format(IEnumerable<ModelEntry> entries)
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(string.Format(c, "{0,-20} {1,14} {2,6} {3,6} {4,5}  {5,-28} {6,-9} {7,-13}", "name", "parameters", "blocks", "width", "heads", "placement", "norm", "init"));
            foreach (var e in entries)
            {
                var s = e.Spec;
                sb.AppendLine(string.Format(c, "{0,-20} {1,14:N0} {2,6} {3,6} {4,5}  {5,-28} {6,-9} {7,-13}",
                    e.Name, s.ParameterCount, s.Layers, s.Hidden, s.Heads, s.PlacementLabel, s.NormType, s.OutputInit));
            }
            return sb.ToString();
        }
    }
}
