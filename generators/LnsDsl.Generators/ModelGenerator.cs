using LnsDsl.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace LnsDsl.Generators
{
    /// <summary>
    /// The LnsDsl incremental generator. Pipeline: classes with [TransformerModel]
    /// → <see cref="Parser"/> (step "Parse": an equatable <see cref="ParseResult"/>)
    /// → the declarations that can be generated (step "Model")
    /// → <see cref="Emitter"/> (one <c>{Namespace}.{Type}.g.cs</c> each).
    /// Diagnostics come from <see cref="ModelAnalyzer"/>, which runs the same parser, so that
    /// <c>#pragma warning disable</c> and <c>.editorconfig</c> severities apply to them.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class ModelGenerator : IIncrementalGenerator
    {
        public const string Version = "0.1.0";

        /// <summary>Tracking names of the pipeline steps (tests assert their caching).</summary>
        public static class Steps
        {
            public const string Parse = "Parse";
            public const string Model = "Model";
        }

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    Parsing.KnownAttributes.TransformerModel,
                    predicate: static (node, _) => node is ClassDeclarationSyntax,
                    transform: static (ctx, ct) => Parser.Parse((INamedTypeSymbol)ctx.TargetSymbol, (ClassDeclarationSyntax)ctx.TargetNode, ctx.Attributes[0], ct))
                .WithTrackingName(Steps.Parse);

            var models = parsed
                .Where(static r => r.Model is not null)
                .Select(static (r, _) => r.Model!)
                .WithTrackingName(Steps.Model);

            context.RegisterSourceOutput(models, static (spc, model) =>
                spc.AddSource(Emitter.HintName(model), Emitter.Emit(model)));
        }
    }
}
