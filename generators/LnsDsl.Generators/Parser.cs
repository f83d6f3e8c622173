using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using LnsDsl.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace LnsDsl.Generators
{
    /// <summary>
    /// Reads the DSL attributes of one class into a <see cref="ModelDeclaration"/> and the diagnostics that
    /// explain why it cannot be generated (errors) or why it is dubious (warnings). Pure: the same
    /// declaration always gives the same result.
    /// </summary>
    internal static class Parser
    {
        public const string TransformerModelAttribute = "LnsDsl.TransformerModelAttribute";
        private const string NormAttribute = "LnsDsl.NormAttribute";
        private const string AttentionAttribute = "LnsDsl.AttentionAttribute";
        private const string FeedForwardAttribute = "LnsDsl.FeedForwardAttribute";
        private const string InitAttribute = "LnsDsl.InitAttribute";
        private const string LayerScaleAttribute = "LnsDsl.LayerScaleAttribute";

        /// <param name="symbol">The annotated class.</param>
        /// <param name="syntax">The declaration that carries <c>[TransformerModel]</c>.</param>
        /// <param name="modelAttribute">The <c>[TransformerModel]</c> attribute.</param>
        /// <param name="cancellationToken">Cancellation.</param>
        public static ParseResult Parse(INamedTypeSymbol symbol, ClassDeclarationSyntax syntax, AttributeData modelAttribute, CancellationToken cancellationToken)
        {
            var diagnostics = new List<DiagnosticInfo>();
            bool canGenerate = true;

            // --- the class itself -------------------------------------------------------------------------
            var nameLocation = LocationInfo.From(syntax.Identifier.GetLocation());
            if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, nameLocation, symbol.Name));
                canGenerate = false;
            }
            if (symbol.IsGenericType || ContainingTypes(symbol).Any(t => t.IsGenericType))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Generic, nameLocation, symbol.Name));
                canGenerate = false;
            }
            var containing = new List<ContainingType>();
            bool visible = symbol.DeclaredAccessibility is not (Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal);
            foreach (var outer in ContainingTypes(symbol).Reverse())
            {
                var outerSyntax = outer.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellationToken)).OfType<TypeDeclarationSyntax>().ToList();
                if (!outerSyntax.Any(s => s.Modifiers.Any(SyntaxKind.PartialKeyword)))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContainingTypeNotPartial,
                        LocationInfo.From(outerSyntax.FirstOrDefault()?.Identifier.GetLocation()) ?? nameLocation, outer.Name, symbol.Name));
                    canGenerate = false;
                }
                visible &= outer.DeclaredAccessibility is not (Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal);
                containing.Add(new ContainingType(Keyword(outer), outer.Name));
            }
            var baseType = syntax.BaseList?.Types.FirstOrDefault();
            if (baseType is not null && symbol.BaseType is { SpecialType: not SpecialType.System_Object } declaredBase
                && declaredBase.TypeKind == TypeKind.Class && declaredBase.ToDisplayString() != "LnsDsl.TransformerModule")
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ModelHasBaseType, LocationInfo.From(baseType), symbol.Name, declaredBase.ToDisplayString()));
                canGenerate = false;
            }

            // --- attribute arguments ---------------------------------------------------------------------
            var model = new AttributeReader(modelAttribute, cancellationToken);
            int layers = model.Int("Layers");
            int hidden = model.Int("Hidden");
            int heads = model.Int("Heads");
            int feedForward = model.Int("FeedForward");
            int vocab = model.Int("Vocab");
            int kvHeadsGiven = model.Int("KvHeads");          // 0 (the attribute default) means "= Heads"
            int kvHeads = kvHeadsGiven == 0 ? heads : kvHeadsGiven;
            int maxSeq = model.Int("MaxSeq", 2048);
            bool tie = model.Bool("TieEmbeddings", false);

            var attributes = symbol.GetAttributes();
            foreach (var group in attributes.Where(a => DslAttributes.Contains(a.AttributeClass?.ToDisplayString() ?? "")).GroupBy(a => a.AttributeClass!.ToDisplayString()))
            {
                if (group.Count() < 2) continue;
                var second = group.Skip(1).First();
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateAttribute,
                    LocationInfo.From(second.ApplicationSyntaxReference?.GetSyntax(cancellationToken)) ?? nameLocation, ShortName(group.Key), symbol.Name));
                canGenerate = false;
            }
            AttributeReader? Find(string name)
            {
                var data = attributes.FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == name);
                return data is null ? null : new AttributeReader(data, cancellationToken);
            }
            var normAttr = Find(NormAttribute);
            var attentionAttr = Find(AttentionAttribute);
            var ffAttr = Find(FeedForwardAttribute);
            var initAttr = Find(InitAttribute);
            var lsAttr = Find(LayerScaleAttribute);

            var kind = (Kind)(normAttr?.Int("Kind") ?? 0);
            var scale = (ScaleRule)(normAttr?.Int("Scale") ?? 0);
            var normType = (NormType)(normAttr?.Int("Type") ?? 0);
            double eps = normAttr?.Double("Eps", 1e-6) ?? 1e-6;
            int postLayers = normAttr?.Int("PostLayers") ?? 0;
            double alphaOverride = normAttr?.Double("Alpha", 0) ?? 0;
            double betaOverride = normAttr?.Double("Beta", 0) ?? 0;
            bool rope = attentionAttr?.Bool("Rope", true) ?? true;
            double ropeTheta = attentionAttr?.Double("RopeTheta", 10000) ?? 10000;
            bool qkNorm = attentionAttr?.Bool("QkNorm", false) ?? false;
            var activation = (Activation)(ffAttr?.Int("Activation") ?? 0);
            double std = initAttr?.Double("Std", 0.02) ?? 0.02;
            double embeddingStd = initAttr?.Double("EmbeddingStd", 0) ?? 0;
            var outputInit = (OutputInit)(initAttr?.Int("Output") ?? 0);
            double layerScaleInit = lsAttr?.Double("Init", 1e-4) ?? 1e-4;

            void Fail(DiagnosticDescriptor d, LocationInfo? at, params object[] args)
            {
                diagnostics.Add(DiagnosticInfo.Create(d, at ?? nameLocation, args));
                canGenerate = false;
            }
            void Warn(DiagnosticDescriptor d, LocationInfo? at, params object[] args)
                => diagnostics.Add(DiagnosticInfo.Create(d, at ?? nameLocation, args));

            // Arguments the compiler could not bind to a constant (it reports its own error too).
            var invalid = new List<string>();
            foreach (var reader in new[] { model, normAttr, attentionAttr, ffAttr, initAttr, lsAttr })
                foreach (var name in reader?.InvalidArguments() ?? Enumerable.Empty<string>())
                {
                    Fail(DiagnosticDescriptors.NotConstant, reader!.Location(name), name);
                    invalid.Add(name);
                }

            // Sizes.
            foreach (var (name, value, reader) in new[]
            {
                ("Layers", layers, model), ("Hidden", hidden, model), ("Heads", heads, model), ("FeedForward", feedForward, model),
                ("Vocab", vocab, model), ("KvHeads", kvHeadsGiven == 0 ? 1 : kvHeadsGiven, model), ("MaxSeq", maxSeq, model),
            })
            {
                if (invalid.Contains(name)) continue;
                if (name != "KvHeads" && name != "MaxSeq" && !reader.Has(name)) Fail(DiagnosticDescriptors.MissingSize, reader.Whole, name);
                else if (value < 1) Fail(DiagnosticDescriptors.NonPositiveSize, reader.Location(name), name, value);
                else if (value > UpperBound(name)) Fail(DiagnosticDescriptors.SizeTooLarge, reader.Location(name), name, value, UpperBound(name));
            }
            if (hidden > 0 && heads > 0 && hidden % heads != 0)
                Fail(DiagnosticDescriptors.HiddenNotDivisibleByHeads, model.Location("Hidden"), hidden, heads);
            if (heads > 0 && kvHeads > 0 && heads % kvHeads != 0)
                Fail(DiagnosticDescriptors.HeadsNotDivisibleByKvHeads, model.ArgumentLocation("KvHeads") ?? model.Location("Heads"), heads, kvHeads);
            int headDim = heads > 0 && hidden > 0 && hidden % heads == 0 ? hidden / heads : 0;
            if (rope && headDim > 0 && headDim % 2 != 0)
                Fail(DiagnosticDescriptors.OddHeadDimWithRope, attentionAttr?.ArgumentLocation("Rope") ?? model.Location("Hidden"), headDim);

            // Enum values (a cast such as (Kind)7 compiles but means nothing).
            if (!Enum.IsDefined(typeof(Kind), kind)) Fail(DiagnosticDescriptors.UnknownEnumValue, normAttr?.Location("Kind"), "Kind", (int)kind, "Kind");
            if (!Enum.IsDefined(typeof(ScaleRule), scale)) Fail(DiagnosticDescriptors.UnknownEnumValue, normAttr?.Location("Scale"), "Scale", (int)scale, "ScaleRule");
            if (!Enum.IsDefined(typeof(NormType), normType)) Fail(DiagnosticDescriptors.UnknownEnumValue, normAttr?.Location("Type"), "Type", (int)normType, "NormType");
            if (!Enum.IsDefined(typeof(Activation), activation)) Fail(DiagnosticDescriptors.UnknownEnumValue, ffAttr?.Location("Activation"), "Activation", (int)activation, "Activation");
            if (!Enum.IsDefined(typeof(OutputInit), outputInit)) Fail(DiagnosticDescriptors.UnknownEnumValue, initAttr?.Location("Output"), "Output", (int)outputInit, "OutputInit");

            // Real-valued arguments.
            void Positive(string name, double value, AttributeReader? reader, bool allowZero = false)
            {
                bool ok = !double.IsNaN(value) && !double.IsInfinity(value) && (allowZero ? value >= 0 : value > 0);
                if (!ok) Fail(DiagnosticDescriptors.ValueOutOfRange, reader?.Location(name), name, value, allowZero ? "it must be finite and >= 0 (0 selects the default)" : "it must be finite and > 0");
            }
            Positive("Eps", eps, normAttr);
            Positive("Alpha", alphaOverride, normAttr, allowZero: true);
            Positive("Beta", betaOverride, normAttr, allowZero: true);
            Positive("RopeTheta", ropeTheta, attentionAttr);
            Positive("Std", std, initAttr);
            Positive("EmbeddingStd", embeddingStd, initAttr, allowZero: true);
            Positive("Init", layerScaleInit, lsAttr);

            if (kind == Kind.Mix && layers > 0 && (postLayers <= 0 || postLayers >= layers))
                Fail(DiagnosticDescriptors.MixPostLayersOutOfRange, normAttr?.ArgumentLocation("PostLayers") ?? normAttr?.Location("Kind"), postLayers, layers, Math.Max(1, layers / 4));

            // The paper's caveat: LNS with depth-scaled output initialisation.
            if (canGenerate && (kind == Kind.Pre || kind == Kind.Mix) && scale != ScaleRule.None
                && (outputInit == OutputInit.ScaledByDepth || outputInit == OutputInit.ScaledByLayer))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LnsWithScaledInit,
                    initAttr?.ArgumentLocation("Output") ?? normAttr?.Location("Scale") ?? nameLocation, "ScaleRule." + scale, outputInit));
            }

            // Advice only for declarations that can be generated: with an error, the error is the message.
            bool lns = canGenerate && scale != ScaleRule.None;
            bool scaledInit = outputInit is OutputInit.ScaledByDepth or OutputInit.ScaledByLayer;
            string scaleText = "ScaleRule." + scale;
            if (canGenerate && kind == Kind.DeepNorm && scaledInit)
                Warn(DiagnosticDescriptors.DeepNormWithScaledInit, initAttr?.ArgumentLocation("Output"), outputInit);
            if (lns && kind is Kind.Post or Kind.DeepNorm)
                Warn(DiagnosticDescriptors.ScaleWithoutPreNorm, normAttr?.Location("Scale"), scaleText, "Kind." + kind);
            if (lns && kind == Kind.Mix && postLayers > 0 && postLayers < layers)
                Warn(DiagnosticDescriptors.ScalePartialOnMix, normAttr?.Location("Scale"), scaleText, postLayers + 1, layers, postLayers);
            if (canGenerate && kind != Kind.Mix && normAttr?.Has("PostLayers") == true)
                Warn(DiagnosticDescriptors.PostLayersWithoutMix, normAttr.Location("PostLayers"), postLayers, kind);
            if (canGenerate && kind == Kind.Post && layers >= 24)
                Warn(DiagnosticDescriptors.DivergenceRisk, normAttr?.Location("Kind"), "Post-LN", layers, hidden, "perplexity above 1,000 at 250M, 350M and 1B, all 24 blocks deep");
            if (canGenerate && kind == Kind.Mix && layers >= 24 && hidden >= 1024)
                Warn(DiagnosticDescriptors.DivergenceRisk, normAttr?.Location("Kind"), "Mix-LN", layers, hidden, "perplexity above 1,000 at 350M and 1B: 24 blocks, width 1024 and more");
            if (lsAttr is not null && lns && kind is not (Kind.Post or Kind.DeepNorm))
                Warn(DiagnosticDescriptors.LayerScaleWithLns, lsAttr.Whole, scaleText);
            if (canGenerate && kind != Kind.DeepNorm)
                foreach (var name in new[] { "Alpha", "Beta" })
                    if (normAttr?.Has(name) == true)
                        Warn(DiagnosticDescriptors.AlphaBetaWithoutDeepNorm, normAttr.Location(name), name, normAttr.Double(name, 0), kind);
            if (canGenerate && scale == ScaleRule.InvDepth && kind is not (Kind.Post or Kind.DeepNorm))
                Warn(DiagnosticDescriptors.InvDepthTooAggressive, normAttr?.Location("Scale"), layers > 0 ? layers : 1);
            if (canGenerate && kind == Kind.Pre && layers >= 24 && scale == ScaleRule.None && lsAttr is null && !scaledInit)
                Warn(DiagnosticDescriptors.DeepPreLnWithoutDepthControl, normAttr?.Location("Kind") ?? model.Location("Layers"), layers);

            cancellationToken.ThrowIfCancellationRequested();
            var diagnosticArray = new EquatableArray<DiagnosticInfo>(diagnostics);
            if (!canGenerate) return new ParseResult(null, diagnosticArray);

            var declaration = Resolver.Resolve(new ModelDeclaration
            {
                Namespace = symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString(),
                ClassName = symbol.Name,
                ContainingTypes = new EquatableArray<ContainingType>(containing),
                VisibleToAssembly = visible,
                Layers = layers,
                Hidden = hidden,
                Heads = heads,
                KvHeads = kvHeads,
                HeadDim = headDim,
                FeedForward = feedForward,
                Vocab = vocab,
                MaxSeq = maxSeq,
                TieEmbeddings = tie,
                Norm = kind,
                NormType = normType,
                Scale = scale,
                Eps = eps,
                PostLayers = kind == Kind.Mix ? postLayers : 0,
                Alpha = alphaOverride,
                Beta = betaOverride,
                Rope = rope,
                RopeTheta = ropeTheta,
                QkNorm = qkNorm,
                Activation = activation,
                Std = std,
                EmbeddingStd = embeddingStd > 0 ? embeddingStd : std,
                OutputInit = outputInit,
                LayerScale = lsAttr is not null,
                LayerScaleInit = lsAttr is not null ? layerScaleInit : 0,
                EmbeddingNorm = kind == Kind.Peri,
            });
            return new ParseResult(declaration, diagnosticArray);
        }

        /// <summary>The DSL's attributes other than [TransformerModel].</summary>
        public static readonly string[] CompanionAttributes = { NormAttribute, AttentionAttribute, FeedForwardAttribute, InitAttribute, LayerScaleAttribute };

        private static readonly HashSet<string> DslAttributes = new(CompanionAttributes.Concat(new[] { TransformerModelAttribute }));

        /// <summary>"LnsDsl.NormAttribute" → "Norm".</summary>
        public static string ShortName(string fullName)
        {
            string name = fullName.Substring(fullName.LastIndexOf('.') + 1);
            return name.EndsWith("Attribute", StringComparison.Ordinal) ? name.Substring(0, name.Length - "Attribute".Length) : name;
        }

        /// <summary>Sane upper bounds: far beyond any trained model, low enough that sizes multiply without overflow.</summary>
        private static int UpperBound(string size) => size switch
        {
            "Layers" => 1024,
            "Hidden" => 65536,
            "Heads" or "KvHeads" => 1024,
            "FeedForward" => 1 << 20,
            "Vocab" => 1 << 24,
            "MaxSeq" => 1 << 20,
            _ => int.MaxValue,
        };

        private static IEnumerable<INamedTypeSymbol> ContainingTypes(INamedTypeSymbol symbol)
        {
            for (var t = symbol.ContainingType; t is not null; t = t.ContainingType) yield return t;
        }

        private static string Keyword(INamedTypeSymbol type) => type switch
        {
            { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
            { IsRecord: true } => "record",
            { TypeKind: TypeKind.Struct } => "struct",
            { TypeKind: TypeKind.Interface } => "interface",
            _ => "class",
        };

        /// <summary>Reads constructor and named arguments of one attribute and finds their source locations.</summary>
        private sealed class AttributeReader
        {
            private readonly AttributeData _data;
            private readonly AttributeSyntax? _syntax;

            public AttributeReader(AttributeData data, CancellationToken cancellationToken)
            {
                _data = data;
                _syntax = data.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            }

            /// <summary>The argument's value: a named property, else the constructor parameter of that name
            /// (case-insensitive); null where absent or not a constant.</summary>
            private object? Value(string name)
            {
                foreach (var named in _data.NamedArguments)
                    if (named.Key == name) return named.Value.Kind == TypedConstantKind.Error ? null : named.Value.Value;
                var parameters = _data.AttributeConstructor?.Parameters ?? ImmutableArray<IParameterSymbol>.Empty;
                for (int i = 0; i < parameters.Length && i < _data.ConstructorArguments.Length; i++)
                {
                    if (string.Equals(parameters[i].Name, name, StringComparison.OrdinalIgnoreCase))
                    {
                        var arg = _data.ConstructorArguments[i];
                        return arg.Kind == TypedConstantKind.Error ? null : arg.Value;
                    }
                }
                return null;
            }

            /// <summary>Names of the arguments the compiler could not bind to a constant.</summary>
            public IEnumerable<string> InvalidArguments()
            {
                foreach (var named in _data.NamedArguments)
                    if (named.Value.Kind == TypedConstantKind.Error) yield return named.Key;
                var parameters = _data.AttributeConstructor?.Parameters ?? ImmutableArray<IParameterSymbol>.Empty;
                for (int i = 0; i < parameters.Length && i < _data.ConstructorArguments.Length; i++)
                    if (_data.ConstructorArguments[i].Kind == TypedConstantKind.Error)
                        yield return char.ToUpperInvariant(parameters[i].Name[0]) + parameters[i].Name.Substring(1);
            }

            /// <summary>Whether the argument is given (named or positional), whatever its value.</summary>
            public bool Has(string name)
                => _data.NamedArguments.Any(n => n.Key == name)
                   || (_data.AttributeConstructor?.Parameters.Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) ?? false);

            public int Int(string name, int fallback = 0)
                => Value(name) is { } v ? Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

            public double Double(string name, double fallback)
                => Value(name) is { } v ? Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

            public bool Bool(string name, bool fallback)
                => Value(name) is bool b ? b : fallback;

            /// <summary>The whole attribute's location.</summary>
            public LocationInfo? Whole => LocationInfo.From(_syntax);

            /// <summary>The location of the argument that sets <paramref name="name"/>, else of the whole attribute.</summary>
            public LocationInfo? Location(string name) => ArgumentLocation(name) ?? Whole;

            /// <summary>The location of the argument that sets <paramref name="name"/>, or null where it is not given.</summary>
            public LocationInfo? ArgumentLocation(string name)
            {
                if (_syntax is null) return null;
                var args = _syntax.ArgumentList?.Arguments ?? default;
                var parameters = _data.AttributeConstructor?.Parameters ?? ImmutableArray<IParameterSymbol>.Empty;
                int positional = 0;
                foreach (var arg in args)
                {
                    if (arg.NameEquals is { } ne)
                    {
                        if (ne.Name.Identifier.ValueText == name) return LocationInfo.From(arg);
                        continue;
                    }
                    string? parameterName = arg.NameColon is { } nc ? nc.Name.Identifier.ValueText
                        : positional < parameters.Length ? parameters[positional].Name : null;
                    if (arg.NameColon is null) positional++;
                    if (parameterName is not null && string.Equals(parameterName, name, StringComparison.OrdinalIgnoreCase))
                        return LocationInfo.From(arg);
                }
                return null;
            }
        }
    }
}
