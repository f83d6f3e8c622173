using System;
using System.Globalization;
using System.Text;

namespace LnsDsl.Generators
{
    /// <summary>An indentation-tracking writer over a StringBuilder.</summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _builder = new();
        private int _indent;

        public SourceWriter Line(string text = "")
        {
            if (text.Length > 0) _builder.Append(' ', _indent * 4).Append(text);
            _builder.Append('\n');
            return this;
        }

        public SourceWriter Open(string header)
        {
            Line(header);
            Line("{");
            _indent++;
            return this;
        }

        public SourceWriter Close(string suffix = "")
        {
            _indent--;
            return Line("}" + suffix);
        }

        public override string ToString() => _builder.ToString();

        /// <summary>A double as a C# literal with round-trip precision in the invariant culture (1/sqrt(7) stays 0.3779644730092272).</summary>
        public static string Literal(double value) => TorchSharpBlock.Literal(value);

        public static string Literal(long value) => value.ToString(CultureInfo.InvariantCulture);

        public static string Literal(bool value) => value ? "true" : "false";
    }
}
