using System.Collections.Generic;
using System.Threading;
using LnsDsl.Generators.Model;
using LnsDsl.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace LnsDsl.Generators
{
    /// <summary>
    /// One annotated class → a <see cref="ParseResult"/>: the resolved <see cref="ModelDeclaration"/> (null when it
    /// cannot be generated) and the diagnostics that explain why it cannot be generated (errors) or why it is
    /// dubious (warnings, information). A pipeline: <see cref="DeclarationReader"/> (attributes → what the user
    /// wrote) → <see cref="Validator"/> (errors) → <see cref="Advisor"/> (advice on a valid declaration) →
    /// <see cref="Resolver"/> (defaults, blocks, parameter count). Pure: the same declaration always gives the
    /// same result, and the result holds no symbol or syntax.
    /// </summary>
    internal static class Parser
    {
        /// <param name="symbol">The annotated class.</param>
        /// <param name="syntax">The declaration that carries <c>[TransformerModel]</c>.</param>
        /// <param name="modelAttribute">The <c>[TransformerModel]</c> attribute.</param>
        /// <param name="cancellationToken">Cancellation.</param>
        public static ParseResult Parse(INamedTypeSymbol symbol, ClassDeclarationSyntax syntax, AttributeData modelAttribute, CancellationToken cancellationToken)
        {
            var declaration = DeclarationReader.Read(symbol, syntax, modelAttribute, cancellationToken);
            var diagnostics = new List<DiagnosticInfo>();
            bool valid = Validator.Validate(declaration, diagnostics);
            if (valid) Advisor.Advise(declaration, diagnostics);
            cancellationToken.ThrowIfCancellationRequested();
            return new ParseResult(valid ? Resolver.Resolve(declaration) : null, new EquatableArray<DiagnosticInfo>(diagnostics));
        }
    }
}
