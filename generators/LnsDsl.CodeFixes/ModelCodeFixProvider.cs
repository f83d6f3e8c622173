using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace LnsDsl.CodeFixes
{
    /// <summary>
    /// One-keystroke fixes: LNS001 make the class partial; LNS101 switch to <c>OutputInit.Plain</c>;
    /// LNS105 remove the stray <c>PostLayers</c>; LNS202 add <c>Scale = ScaleRule.InvSqrtDepth</c>.
    /// </summary>
    [ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ModelCodeFixProvider))]
    public sealed class ModelCodeFixProvider : CodeFixProvider
    {
        public const string MakePartial = "LNS001";
        public const string LnsWithScaledInit = "LNS101";
        public const string PostLayersWithoutMix = "LNS105";
        public const string DeepPreLnWithoutDepthControl = "LNS202";

        public override ImmutableArray<string> FixableDiagnosticIds { get; } =
            ImmutableArray.Create(MakePartial, LnsWithScaledInit, PostLayersWithoutMix, DeepPreLnWithoutDepthControl);

        public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

        public override async Task RegisterCodeFixesAsync(CodeFixContext context)
        {
            var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
            if (root is null) return;
            foreach (var diagnostic in context.Diagnostics)
            {
                var node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
                switch (diagnostic.Id)
                {
                    case MakePartial when node.FirstAncestorOrSelf<ClassDeclarationSyntax>() is { } type:
                        Register(context, diagnostic, "Make the class partial", root, type,
                            type.AddModifiers(SyntaxFactory.Token(SyntaxKind.PartialKeyword).WithTrailingTrivia(SyntaxFactory.Space)));
                        break;
                    case LnsWithScaledInit when node.FirstAncestorOrSelf<AttributeArgumentSyntax>() is { } argument:
                        Register(context, diagnostic, "Use OutputInit.Plain with LayerNorm Scaling", root, argument.Expression,
                            Rename(argument.Expression, "OutputInit", "Plain"));
                        break;
                    case PostLayersWithoutMix when node.FirstAncestorOrSelf<AttributeArgumentSyntax>() is { Parent: AttributeArgumentListSyntax list } argument:
                        Register(context, diagnostic, "Remove PostLayers", root, list,
                            list.WithArguments(list.Arguments.Remove(argument)));
                        break;
                    case DeepPreLnWithoutDepthControl when node.FirstAncestorOrSelf<ClassDeclarationSyntax>() is { } model:
                        var fixedModel = AddLns(model);
                        if (fixedModel is not null)
                            Register(context, diagnostic, "Add Scale = ScaleRule.InvSqrtDepth (LayerNorm Scaling)", root, model, fixedModel);
                        break;
                }
            }
        }

        private static void Register(CodeFixContext context, Diagnostic diagnostic, string title, SyntaxNode root, SyntaxNode before, SyntaxNode after)
            => context.RegisterCodeFix(
                CodeAction.Create(title, _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(before, after.WithTriviaFrom(before)))), equivalenceKey: title),
                diagnostic);

        /// <summary><c>OutputInit.ScaledByDepth</c> → <c>OutputInit.Plain</c>, keeping any qualification.</summary>
        private static ExpressionSyntax Rename(ExpressionSyntax expression, string enumName, string member)
            => expression is MemberAccessExpressionSyntax access
                ? access.WithName(SyntaxFactory.IdentifierName(member))
                : SyntaxFactory.ParseExpression($"{enumName}.{member}");

        /// <summary>Adds <c>Scale = ScaleRule.InvSqrtDepth</c> to the class's [Norm], or adds [Norm(Kind.Pre, Scale = ...)].</summary>
        private static ClassDeclarationSyntax? AddLns(ClassDeclarationSyntax model)
        {
            var norm = model.AttributeLists.SelectMany(l => l.Attributes).FirstOrDefault(a => SimpleName(a.Name) is "Norm" or "NormAttribute");
            if (norm is null)
            {
                var list = SyntaxFactory.AttributeList(SyntaxFactory.SingletonSeparatedList(
                    SyntaxFactory.Attribute(SyntaxFactory.IdentifierName("Norm"), SyntaxFactory.ParseAttributeArgumentList("(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)"))));
                var lists = model.AttributeLists;
                var last = lists.Last();
                return model.WithAttributeLists(lists.Insert(lists.Count, list.WithLeadingTrivia(last.GetLeadingTrivia()).WithTrailingTrivia(last.GetTrailingTrivia())));
            }
            if (norm.ArgumentList?.Arguments.Any(a => a.NameEquals?.Name.Identifier.ValueText == "Scale") == true) return null;
            // Qualify ScaleRule as the Kind argument is qualified (Kind.Pre → ScaleRule, LnsDsl.Kind.Pre → LnsDsl.ScaleRule).
            string qualifier = "";
            if (norm.ArgumentList?.Arguments.FirstOrDefault()?.Expression is MemberAccessExpressionSyntax { Expression: MemberAccessExpressionSyntax kindType })
                qualifier = kindType.Expression + ".";
            var argument = SyntaxFactory.AttributeArgument(
                SyntaxFactory.NameEquals(SyntaxFactory.IdentifierName("Scale")), null,
                SyntaxFactory.ParseExpression(qualifier + "ScaleRule.InvSqrtDepth"));
            var arguments = norm.ArgumentList ?? SyntaxFactory.AttributeArgumentList();
            var updated = norm.WithArgumentList(arguments.AddArguments(argument));
            return model.ReplaceNode(norm, updated);
        }

        private static string SimpleName(NameSyntax name) => name switch
        {
            QualifiedNameSyntax q => q.Right.Identifier.ValueText,
            AliasQualifiedNameSyntax a => a.Name.Identifier.ValueText,
            SimpleNameSyntax s => s.Identifier.ValueText,
            _ => name.ToString(),
        };
    }
}
