using System.Collections.Immutable;
using System.Linq;
using LnsDsl.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace LnsDsl.Generators
{
    /// <summary>
    /// Reports the diagnostics of every [TransformerModel] class, from the same <see cref="Parser"/> the
    /// generator uses. Being an analyzer (not a generator output), its warnings honour
    /// <c>#pragma warning disable</c>, <c>[SuppressMessage]</c> and <c>.editorconfig</c> severities.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    public sealed class ModelAnalyzer : DiagnosticAnalyzer
    {
        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
            DiagnosticDescriptors.ById.Values.OrderBy(d => d.Id).ToImmutableArray();

        public override void Initialize(AnalysisContext context)
        {
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
            context.EnableConcurrentExecution();
            context.RegisterCompilationStartAction(start =>
            {
                var attributeType = start.Compilation.GetTypeByMetadataName(KnownAttributes.TransformerModel);
                if (attributeType is null) return;
                start.RegisterSymbolAction(c => Analyze(c, attributeType), SymbolKind.NamedType);
            });
        }

        private static void Analyze(SymbolAnalysisContext context, INamedTypeSymbol attributeType)
        {
            var symbol = (INamedTypeSymbol)context.Symbol;
            var attributes = symbol.GetAttributes();
            var attribute = attributes.FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attributeType));
            if (attribute is null)
            {
                // DSL attributes on a class that is not a model do nothing: say so.
                foreach (var companion in attributes)
                {
                    string name = companion.AttributeClass?.ToDisplayString() ?? "";
                    if (System.Array.IndexOf(KnownAttributes.Companions, name) < 0) continue;
                    var at = companion.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken).GetLocation() ?? symbol.Locations.FirstOrDefault();
                    context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.DslAttributeWithoutModel, at, KnownAttributes.ShortName(name), symbol.Name));
                }
                return;
            }
            if (attribute?.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken).Parent?.Parent is not ClassDeclarationSyntax declaration)
                return;
            var result = Parser.Parse(symbol, declaration, attribute, context.CancellationToken);
            foreach (var diagnostic in result.Diagnostics)
                context.ReportDiagnostic(diagnostic.ToDiagnostic(context.Compilation));
        }
    }
}
