using System;
using System.Collections.Generic;
using System.Linq;

namespace LnsDsl.Generators.Parsing
{
    /// <summary>The metadata names of the DSL's attributes (from the linked attribute classes themselves).</summary>
    internal static class KnownAttributes
    {
        public const string TransformerModel = "LnsDsl." + nameof(TransformerModelAttribute);
        public const string Norm = "LnsDsl." + nameof(NormAttribute);
        public const string Attention = "LnsDsl." + nameof(AttentionAttribute);
        public const string FeedForward = "LnsDsl." + nameof(FeedForwardAttribute);
        public const string Init = "LnsDsl." + nameof(InitAttribute);
        public const string LayerScale = "LnsDsl." + nameof(LayerScaleAttribute);
        public const string Residual = "LnsDsl." + nameof(ResidualAttribute);
        public const string HyperConnections = "LnsDsl." + nameof(HyperConnectionsAttribute);

        /// <summary>The base class a model may declare (the one it gets anyway).</summary>
        public const string TransformerModule = "LnsDsl.TransformerModule";

        /// <summary>The DSL's attributes other than [TransformerModel].</summary>
        public static readonly string[] Companions = { Norm, Attention, FeedForward, Init, LayerScale, Residual, HyperConnections };

        /// <summary>Every DSL attribute.</summary>
        public static readonly HashSet<string> All = new(Companions.Concat(new[] { TransformerModel }));

        /// <summary>"LnsDsl.NormAttribute" → "Norm".</summary>
        public static string ShortName(string fullName)
        {
            string name = fullName.Substring(fullName.LastIndexOf('.') + 1);
            return name.EndsWith("Attribute", StringComparison.Ordinal) ? name.Substring(0, name.Length - "Attribute".Length) : name;
        }
    }
}
