using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using LnsDsl.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace LnsDsl.Generators.Parsing
{
    /// <summary>
    /// Reads one annotated class into a <see cref="RawDeclaration"/>: the class's shape and every DSL argument as
    /// written, with its location. The only step that touches symbols and syntax; it judges nothing.
    /// </summary>
    internal static class DeclarationReader
    {
        /// <param name="symbol">The annotated class.</param>
        /// <param name="syntax">The declaration that carries <c>[TransformerModel]</c>.</param>
        /// <param name="modelAttribute">The <c>[TransformerModel]</c> attribute.</param>
        /// <param name="cancellationToken">Cancellation.</param>
        public static RawDeclaration Read(INamedTypeSymbol symbol, ClassDeclarationSyntax syntax, AttributeData modelAttribute, CancellationToken cancellationToken)
        {
            var nameLocation = LocationInfo.From(syntax.Identifier.GetLocation());

            var containing = new List<RawContainingType>();
            bool visible = IsVisible(symbol);
            foreach (var outer in ContainingTypes(symbol).Reverse())
            {
                var outerSyntax = outer.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellationToken)).OfType<TypeDeclarationSyntax>().ToList();
                visible &= IsVisible(outer);
                containing.Add(new RawContainingType(Keyword(outer), outer.Name,
                    IsPartial: outerSyntax.Any(s => s.Modifiers.Any(SyntaxKind.PartialKeyword)),
                    Location: LocationInfo.From(outerSyntax.FirstOrDefault()?.Identifier.GetLocation())));
            }

            string? baseClass = null;
            LocationInfo? baseClassLocation = null;
            var baseType = syntax.BaseList?.Types.FirstOrDefault();
            if (baseType is not null && symbol.BaseType is { SpecialType: not SpecialType.System_Object } declaredBase && declaredBase.TypeKind == TypeKind.Class)
            {
                baseClass = declaredBase.ToDisplayString();
                baseClassLocation = LocationInfo.From(baseType);
            }

            var attributes = symbol.GetAttributes();
            var duplicates = new List<DuplicateAttribute>();
            foreach (var group in attributes.Where(a => KnownAttributes.All.Contains(a.AttributeClass?.ToDisplayString() ?? "")).GroupBy(a => a.AttributeClass!.ToDisplayString()))
            {
                if (group.Count() < 2) continue;
                var second = group.Skip(1).First();
                duplicates.Add(new DuplicateAttribute(KnownAttributes.ShortName(group.Key),
                    LocationInfo.From(second.ApplicationSyntaxReference?.GetSyntax(cancellationToken)) ?? nameLocation));
            }

            ArgumentReader? Find(string name)
                => attributes.FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == name) is { } data ? new ArgumentReader(data, cancellationToken) : null;

            return new RawDeclaration
            {
                Namespace = symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString(),
                ClassName = symbol.Name,
                NameLocation = nameLocation,
                IsPartial = syntax.Modifiers.Any(SyntaxKind.PartialKeyword),
                IsGeneric = symbol.IsGenericType || ContainingTypes(symbol).Any(t => t.IsGenericType),
                ContainingTypes = new EquatableArray<RawContainingType>(containing),
                VisibleToAssembly = visible,
                BaseClass = baseClass,
                BaseClassLocation = baseClassLocation,
                Duplicates = new EquatableArray<DuplicateAttribute>(duplicates),
                Model = ReadModel(new ArgumentReader(modelAttribute, cancellationToken)),
                Norm = Find(KnownAttributes.Norm) is { } norm ? ReadNorm(norm) : null,
                Attention = Find(KnownAttributes.Attention) is { } attention ? ReadAttention(attention) : null,
                FeedForward = Find(KnownAttributes.FeedForward) is { } feedForward ? ReadFeedForward(feedForward) : null,
                Init = Find(KnownAttributes.Init) is { } init ? ReadInit(init) : null,
                LayerScale = Find(KnownAttributes.LayerScale) is { } layerScale ? ReadLayerScale(layerScale) : null,
                Residual = Find(KnownAttributes.Residual) is { } residual ? ReadResidual(residual) : null,
                HyperConnections = Find(KnownAttributes.HyperConnections) is { } hyper ? ReadHyperConnections(hyper) : null,
            };
        }

        private static RawTransformerModel ReadModel(ArgumentReader a)
        {
            var raw = new RawTransformerModel { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(TransformerModelAttribute.Layers) => raw with { Layers = a.Int(name) },
                    nameof(TransformerModelAttribute.Hidden) => raw with { Hidden = a.Int(name) },
                    nameof(TransformerModelAttribute.Heads) => raw with { Heads = a.Int(name) },
                    nameof(TransformerModelAttribute.FeedForward) => raw with { FeedForward = a.Int(name) },
                    nameof(TransformerModelAttribute.Vocab) => raw with { Vocab = a.Int(name) },
                    nameof(TransformerModelAttribute.KvHeads) => raw with { KvHeads = a.Int(name) },
                    nameof(TransformerModelAttribute.MaxSeq) => raw with { MaxSeq = a.Int(name) },
                    nameof(TransformerModelAttribute.TieEmbeddings) => raw with { TieEmbeddings = a.Bool(name) },
                    nameof(TransformerModelAttribute.HeadDim) => raw with { HeadDim = a.Int(name) },
                    nameof(TransformerModelAttribute.ScaleEmbeddings) => raw with { ScaleEmbeddings = a.Bool(name) },
                    nameof(TransformerModelAttribute.LogitSoftCap) => raw with { LogitSoftCap = a.Double(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static RawNorm ReadNorm(ArgumentReader a)
        {
            var raw = new RawNorm { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(NormAttribute.Kind) => raw with { Kind = a.Enum<Kind>(name) },
                    nameof(NormAttribute.Scale) => raw with { Scale = a.Enum<ScaleRule>(name) },
                    nameof(NormAttribute.Type) => raw with { Type = a.Enum<NormType>(name) },
                    nameof(NormAttribute.Eps) => raw with { Eps = a.Double(name) },
                    nameof(NormAttribute.PostLayers) => raw with { PostLayers = a.Int(name) },
                    nameof(NormAttribute.Alpha) => raw with { Alpha = a.Double(name) },
                    nameof(NormAttribute.Beta) => raw with { Beta = a.Double(name) },
                    nameof(NormAttribute.EmbeddingNorm) => raw with { EmbeddingNorm = a.Bool(name) },
                    nameof(NormAttribute.TanhAlpha) => raw with { TanhAlpha = a.Double(name) },
                    nameof(NormAttribute.TanhAlphaMlp) => raw with { TanhAlphaMlp = a.Double(name) },
                    nameof(NormAttribute.TanhAlphaFinal) => raw with { TanhAlphaFinal = a.Double(name) },
                    nameof(NormAttribute.Kappa) => raw with { Kappa = a.Double(name) },
                    nameof(NormAttribute.FirstBlockPreNorm) => raw with { FirstBlockPreNorm = a.Bool(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static RawAttention ReadAttention(ArgumentReader a)
        {
            var raw = new RawAttention { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(AttentionAttribute.Rope) => raw with { Rope = a.Bool(name) },
                    nameof(AttentionAttribute.RopeTheta) => raw with { RopeTheta = a.Double(name) },
                    nameof(AttentionAttribute.QkNorm) => raw with { QkNorm = a.Bool(name) },
                    nameof(AttentionAttribute.QkNormScope) => raw with { QkNormScope = a.Enum<QkNormScope>(name) },
                    nameof(AttentionAttribute.QkvBias) => raw with { QkvBias = a.Bool(name) },
                    nameof(AttentionAttribute.OutputBias) => raw with { OutputBias = a.Bool(name) },
                    nameof(AttentionAttribute.SoftCap) => raw with { SoftCap = a.Double(name) },
                    nameof(AttentionAttribute.QueryScaleDim) => raw with { QueryScaleDim = a.Int(name) },
                    nameof(AttentionAttribute.RopeScaling) => raw with { RopeScaling = a.Enum<RopeScaling>(name) },
                    nameof(AttentionAttribute.RopeFactor) => raw with { RopeFactor = a.Double(name) },
                    nameof(AttentionAttribute.RopeLowFreqFactor) => raw with { RopeLowFreqFactor = a.Double(name) },
                    nameof(AttentionAttribute.RopeHighFreqFactor) => raw with { RopeHighFreqFactor = a.Double(name) },
                    nameof(AttentionAttribute.RopeOriginalMaxSeq) => raw with { RopeOriginalMaxSeq = a.Int(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static RawFeedForward ReadFeedForward(ArgumentReader a)
        {
            var raw = new RawFeedForward { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(FeedForwardAttribute.Activation) => raw with { Activation = a.Enum<Activation>(name) },
                    nameof(FeedForwardAttribute.Bias) => raw with { Bias = a.Bool(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static RawInit ReadInit(ArgumentReader a)
        {
            var raw = new RawInit { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(InitAttribute.Std) => raw with { Std = a.Double(name) },
                    nameof(InitAttribute.EmbeddingStd) => raw with { EmbeddingStd = a.Double(name) },
                    nameof(InitAttribute.Output) => raw with { Output = a.Enum<OutputInit>(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static RawLayerScale ReadLayerScale(ArgumentReader a)
        {
            var raw = new RawLayerScale { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(LayerScaleAttribute.Init) => raw with { Init = a.Double(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static RawHyperConnections ReadHyperConnections(ArgumentReader a)
        {
            var raw = new RawHyperConnections { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(HyperConnectionsAttribute.Streams) => raw with { Streams = a.Int(name) },
                    nameof(HyperConnectionsAttribute.Manifold) => raw with { Manifold = a.Bool(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static RawResidual ReadResidual(ArgumentReader a)
        {
            var raw = new RawResidual { Location = a.Whole, InvalidArguments = a.Invalid };
            foreach (string name in a.Names)
            {
                raw = name switch
                {
                    nameof(ResidualAttribute.Gate) => raw with { Gate = a.Enum<ResidualGate>(name) },
                    nameof(ResidualAttribute.GateInit) => raw with { GateInit = a.Double(name) },
                    nameof(ResidualAttribute.Rule) => raw with { Rule = a.Enum<ResidualRule>(name) },
                    nameof(ResidualAttribute.BaseLayers) => raw with { BaseLayers = a.Int(name) },
                    _ => raw,
                };
            }
            return raw;
        }

        private static bool IsVisible(INamedTypeSymbol type)
            => type.DeclaredAccessibility is not (Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal);

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

        /// <summary>
        /// The arguments of one attribute application, by property name: constructor parameters (named as their
        /// property, "feedForward" → "FeedForward") and named arguments (which win over a constructor argument of
        /// the same name), and where each is written.
        /// </summary>
        private sealed class ArgumentReader
        {
            private readonly AttributeData _data;
            private readonly AttributeSyntax? _syntax;
            private readonly ImmutableArray<IParameterSymbol> _parameters;

            public ArgumentReader(AttributeData data, CancellationToken cancellationToken)
            {
                _data = data;
                _syntax = data.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
                _parameters = data.AttributeConstructor?.Parameters ?? ImmutableArray<IParameterSymbol>.Empty;
                Invalid = new EquatableArray<InvalidArgument>(InvalidNames().Select(name => new InvalidArgument(name, Location(name) ?? Whole)));
            }

            /// <summary>The whole attribute's location.</summary>
            public LocationInfo? Whole => LocationInfo.From(_syntax);

            /// <summary>The arguments the compiler could not bind to a constant (it reports its own error too).</summary>
            public EquatableArray<InvalidArgument> Invalid { get; }

            /// <summary>The property names given: the constructor's parameters, then the named arguments.</summary>
            public IEnumerable<string> Names
                => _parameters.Select(p => PropertyName(p.Name)).Concat(_data.NamedArguments.Select(n => n.Key)).Distinct();

            public Argument<int> Int(string name)
                => Read(name, v => (int?)Convert.ToInt32(v, CultureInfo.InvariantCulture));

            public Argument<double> Double(string name)
                => Read(name, v => (double?)Convert.ToDouble(v, CultureInfo.InvariantCulture));

            public Argument<bool> Bool(string name)
                => Read<bool>(name, v => v is bool b ? b : null);

            /// <summary>An enum argument: its underlying value as that enum, defined or not (the validator judges).</summary>
            public Argument<TEnum> Enum<TEnum>(string name) where TEnum : struct, System.Enum
                => Read(name, v => (TEnum?)(TEnum)System.Enum.ToObject(typeof(TEnum), Convert.ToInt32(v, CultureInfo.InvariantCulture)));

            private Argument<T> Read<T>(string name, Func<object, T?> convert) where T : struct
                => new(IsGiven(name), Value(name) is { } v ? convert(v) : null,
                       Invalid.Any(i => string.Equals(i.Name, name, StringComparison.OrdinalIgnoreCase)), Location(name));

            private static string PropertyName(string parameterName)
                => char.ToUpperInvariant(parameterName[0]) + parameterName.Substring(1);

            /// <summary>Whether the argument is given (named, or a constructor parameter), whatever its value.</summary>
            private bool IsGiven(string name)
                => _data.NamedArguments.Any(n => n.Key == name)
                   || _parameters.Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

            /// <summary>The argument's constant: a named argument, else the constructor parameter of that name
            /// (case-insensitive); null where absent or not a constant.</summary>
            private object? Value(string name)
            {
                foreach (var named in _data.NamedArguments)
                    if (named.Key == name) return named.Value.Kind == TypedConstantKind.Error ? null : named.Value.Value;
                for (int i = 0; i < _parameters.Length && i < _data.ConstructorArguments.Length; i++)
                {
                    if (string.Equals(_parameters[i].Name, name, StringComparison.OrdinalIgnoreCase))
                    {
                        var arg = _data.ConstructorArguments[i];
                        return arg.Kind == TypedConstantKind.Error ? null : arg.Value;
                    }
                }
                return null;
            }

            private IEnumerable<string> InvalidNames()
            {
                foreach (var named in _data.NamedArguments)
                    if (named.Value.Kind == TypedConstantKind.Error) yield return named.Key;
                for (int i = 0; i < _parameters.Length && i < _data.ConstructorArguments.Length; i++)
                    if (_data.ConstructorArguments[i].Kind == TypedConstantKind.Error)
                        yield return PropertyName(_parameters[i].Name);
            }

            /// <summary>The location of the argument that sets <paramref name="name"/>, or null where it is not written.</summary>
            private LocationInfo? Location(string name)
            {
                if (_syntax is null) return null;
                var args = _syntax.ArgumentList?.Arguments ?? default;
                int positional = 0;
                foreach (var arg in args)
                {
                    if (arg.NameEquals is { } ne)
                    {
                        if (ne.Name.Identifier.ValueText == name) return LocationInfo.From(arg);
                        continue;
                    }
                    string? parameterName = arg.NameColon is { } nc ? nc.Name.Identifier.ValueText
                        : positional < _parameters.Length ? _parameters[positional].Name : null;
                    if (arg.NameColon is null) positional++;
                    if (parameterName is not null && string.Equals(parameterName, name, StringComparison.OrdinalIgnoreCase))
                        return LocationInfo.From(arg);
                }
                return null;
            }
        }
    }
}
