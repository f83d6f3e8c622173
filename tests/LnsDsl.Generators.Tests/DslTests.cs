using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace LnsDsl.Generators.Tests
{
    /// <summary>
    /// The DSL as the generator sees it: every member of every DSL enum (read by reflection from the attributes
    /// assembly, so that a new member fails here until the generator handles it) and the shared placement facts.
    /// </summary>
    public sealed class DslTests
    {
        private const string Usings = "using LnsDsl;\nnamespace Lab;\n";

        /// <summary>Each member of each DSL enum, with the attributes that select it.</summary>
        public static IEnumerable<object[]> EnumMembers()
        {
            foreach (Kind kind in Enum.GetValues(typeof(Kind)))
                yield return Case(kind, $"[Norm(Kind.{kind}{(kind == Kind.Mix ? ", PostLayers = 1" : "")})]", $"Norm = global::LnsDsl.Kind.{kind},");
            foreach (ScaleRule scale in Enum.GetValues(typeof(ScaleRule)))
                yield return Case(scale, $"[Norm(Kind.Pre, Scale = ScaleRule.{scale})]", $"Scale = global::LnsDsl.ScaleRule.{scale},");
            foreach (NormType type in Enum.GetValues(typeof(NormType)))
                yield return Case(type, $"[Norm(Kind.Pre, Type = NormType.{type})]", $"NormType = global::LnsDsl.NormType.{type},");
            foreach (Activation activation in Enum.GetValues(typeof(Activation)))
                yield return Case(activation, $"[FeedForward(Activation.{activation})]", $"Activation = global::LnsDsl.Activation.{activation},");
            foreach (QkNormScope scope in Enum.GetValues(typeof(QkNormScope)))
                yield return Case(scope, $"[Attention(QkNorm = true, QkNormScope = QkNormScope.{scope})]", scope == QkNormScope.Head ? "QkNorm = true," : $"QkNormScope = global::LnsDsl.QkNormScope.{scope},");
            foreach (RopeScaling scaling in Enum.GetValues(typeof(RopeScaling)))
                yield return Case(scaling, $"[Attention(RopeScaling = RopeScaling.{scaling}, RopeFactor = 2)]", scaling == RopeScaling.None ? "RopeTheta = 10000D," : $"RopeScaling = global::LnsDsl.RopeScaling.{scaling},");
            foreach (OutputInit output in Enum.GetValues(typeof(OutputInit)))
                yield return Case(output, $"[Init(Output = OutputInit.{output})]", $"OutputInit = global::LnsDsl.OutputInit.{output},");

            static object[] Case(Enum member, string attributes, string specLine)
                => new object[] { $"{member.GetType().Name}.{member}", attributes, specLine };
        }

        [Theory]
        [MemberData(nameof(EnumMembers))]
        public void Every_DSL_enum_member_is_generated(string member, string attributes, string specLine)
        {
            var result = GeneratorHarness.Run(Usings + $"[TransformerModel(Layers = 4, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n{attributes}\npublic partial class M {{ }}");
            Assert.Empty(result.GeneratorDiagnostics);
            Assert.DoesNotContain(result.Ours, d => d.Severity == DiagnosticSeverity.Error);
            var (_, source) = Assert.Single(result.Generated);
            Assert.True(source.Contains(specLine), $"{member}: the spec lacks '{specLine}'");
            Assert.Empty(result.CompileErrors);
        }

        /// <summary>One past each enum's last member is reported (LNS011), not generated.</summary>
        [Theory]
        [InlineData("[Norm((Kind){0})]", typeof(Kind))]
        [InlineData("[Norm(Kind.Pre, Scale = (ScaleRule){0})]", typeof(ScaleRule))]
        [InlineData("[Norm(Kind.Pre, Type = (NormType){0})]", typeof(NormType))]
        [InlineData("[FeedForward((Activation){0})]", typeof(Activation))]
        [InlineData("[Init(Output = (OutputInit){0})]", typeof(OutputInit))]
        [InlineData("[Attention(QkNorm = true, QkNormScope = (QkNormScope){0})]", typeof(QkNormScope))]
        [InlineData("[Attention(RopeScaling = (RopeScaling){0})]", typeof(RopeScaling))]
        [InlineData("[Residual(Gate = (ResidualGate){0})]", typeof(ResidualGate))]
        [InlineData("[Residual(Rule = (ResidualRule){0})]", typeof(ResidualRule))]
        public void Undefined_enum_values_are_errors(string attribute, Type enumType)
        {
            int undefined = Enum.GetValues(enumType).Cast<int>().Max() + 1;
            var result = GeneratorHarness.Run(Usings + "[TransformerModel(Layers = 4, Hidden = 64, Heads = 4, FeedForward = 128, Vocab = 100)]\n"
                                              + string.Format(System.Globalization.CultureInfo.InvariantCulture, attribute, undefined) + "\npublic partial class M { }");
            var diagnostic = Assert.Single(result.Ours);
            Assert.Equal("LNS011", diagnostic.Id);
            Assert.EndsWith($"= {undefined} is not a defined {enumType.Name} value", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Empty(result.Generated);
        }

        [Fact]
        public void Every_kind_has_a_placement_for_every_block_and_every_placement_a_label()
        {
            foreach (Kind kind in Enum.GetValues(typeof(Kind)))
                for (int l = 1; l <= 4; l++)
                    Assert.True(Enum.IsDefined(typeof(Placement), Placements.PlacementOf(kind, l, postLayers: 2)));
            var labels = Enum.GetValues(typeof(Placement)).Cast<Placement>().Select(Placements.Label).ToList();
            Assert.Equal(new[] { "Pre-LN", "Post-LN", "Peri-LN", "DeepNorm", "Output-LN", "Norm-free", "HybridNorm" }, labels);
            Assert.Equal(new[] { Placement.PreLn, Placement.Hybrid, Placement.Hybrid },
                Enumerable.Range(1, 3).Select(l => Placements.PlacementOf(Kind.Hybrid, l, postLayers: 0, firstBlockPreNorm: true)));
            Assert.Equal(new[] { Placement.PostLn, Placement.PostLn, Placement.PreLn, Placement.PreLn },
                Enumerable.Range(1, 4).Select(l => Placements.PlacementOf(Kind.Mix, l, postLayers: 2)));
        }

        [Theory]
        [InlineData(Kind.Pre, ScaleRule.None, 0, false, false, "Pre-LN")]
        [InlineData(Kind.Pre, ScaleRule.InvSqrtDepth, 0, false, false, "Pre-LN + LNS")]
        [InlineData(Kind.Pre, ScaleRule.InvDepth, 0, false, false, "Pre-LN + 1/l")]
        [InlineData(Kind.Post, ScaleRule.None, 0, false, false, "Post-LN")]
        [InlineData(Kind.Mix, ScaleRule.InvSqrtDepth, 2, false, false, "Mix-LN (k=2) + LNS")]
        [InlineData(Kind.Peri, ScaleRule.None, 0, true, false, "Peri-LN + LayerScale")]
        [InlineData(Kind.DeepNorm, ScaleRule.None, 0, false, false, "DeepNorm")]
        [InlineData(Kind.Pre, ScaleRule.InvSqrtDepth, 0, false, true, "Pre-LN + LNS (1/sqrt(l))")]
        [InlineData(Kind.Pre, ScaleRule.InvDepth, 0, true, true, "Pre-LN + 1/l scaling + LayerScale")]
        [InlineData(Kind.Mix, ScaleRule.None, 3, false, true, "Mix-LN (Post-LN blocks 1..3, Pre-LN after)")]
        [InlineData(Kind.Hybrid, ScaleRule.None, 0, false, false, "HybridNorm")]
        public void Placement_labels(Kind kind, ScaleRule scale, int postLayers, bool layerScale, bool detailed, string expected)
            => Assert.Equal(expected, Placements.Label(kind, scale, postLayers, layerScale, detailed));

        [Fact]
        public void Scale_factors_and_DeepNorm_defaults()
        {
            Assert.Equal(0.5, Placements.ScaleFactor(ScaleRule.InvSqrtDepth, 4));
            Assert.Equal(0.25, Placements.ScaleFactor(ScaleRule.InvDepth, 4));
            Assert.Equal(1.0, Placements.ScaleFactor(ScaleRule.None, 4));
            Assert.Equal(2.0, Placements.DeepNormAlpha(8), 12);      // (2 * 8)^(1/4)
            Assert.Equal(0.25, Placements.DeepNormBeta(32), 12);     // (8 * 32)^(-1/4)
            Assert.True(Placements.HasPreNorm(Placement.PreLn) && Placements.HasPreNorm(Placement.PeriLn));
            Assert.False(Placements.HasPreNorm(Placement.PostLn) || Placements.HasPreNorm(Placement.DeepNorm));
        }
    }
}
