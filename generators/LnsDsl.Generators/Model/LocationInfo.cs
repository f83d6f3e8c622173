using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace LnsDsl.Generators.Model
{
    /// <summary>A source location as plain data (no SyntaxTree), so that it can live in the incremental pipeline.</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan TextSpan, LinePositionSpan LineSpan)
    {
        /// <summary>A source location in <paramref name="compilation"/>'s tree of that path (so that
        /// <c>#pragma warning disable</c> applies), else an external-file location.</summary>
        public Location ToLocation(Compilation? compilation = null)
        {
            foreach (var tree in compilation?.SyntaxTrees ?? System.Linq.Enumerable.Empty<SyntaxTree>())
                if (tree.FilePath == FilePath) return Location.Create(tree, TextSpan);
            return Location.Create(FilePath, TextSpan, LineSpan);
        }

        public static LocationInfo? From(SyntaxNode? node) => From(node?.GetLocation());

        public static LocationInfo? From(Location? location)
            => location?.SourceTree is null ? null
                : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    /// <summary>A diagnostic as plain data: descriptor id, location and message arguments.</summary>
    internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params object[] arguments)
            => new(descriptor.Id, location, new EquatableArray<string>(System.Linq.Enumerable.Select(arguments, a => Format(a))));

        private static string Format(object a) => a switch
        {
            double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            System.IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            _ => a?.ToString() ?? "",
        };

        public Diagnostic ToDiagnostic(Compilation? compilation = null)
            => Diagnostic.Create(DiagnosticDescriptors.ById[Id], Location?.ToLocation(compilation) ?? Microsoft.CodeAnalysis.Location.None,
                System.Linq.Enumerable.ToArray<object>(Arguments));
    }
}
