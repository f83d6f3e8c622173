// Also compiled into LnsDsl.Generators (linked in its .csproj): the TorchSharp back-end of BlockProgram, which the
// generator's Emitter writes into every model's .g.cs. Shared so that a test can render a program the builder does not
// have yet and compile it into a model exactly as the generator would.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace LnsDsl
{
    /// <summary>The TorchSharp primitive of each block-program operation, over the generated model's own helpers:
    /// <c>Norm(x, weight, s)</c>, <c>Attention(layer.self_attn, x)</c>, <c>Mlp(layer.mlp, x)</c>, <c>Weight(p)</c>, and with
    /// hyper-connections <c>HyperMix(layer.attn_hc, x)</c>, <c>HyperRead(x, m)</c>, <c>HyperWrite(x, m, f)</c>.</summary>
#if LNSDSL_GENERATOR
    internal
#else
    public
#endif
    static class TorchSharpBlock
    {
        /// <summary>The method's name: <c>PreLnBlock</c>, ...</summary>
        public static string MethodName(BlockProgram program) => program.Name + "Block";

        /// <summary>The method's parameters after <c>layer</c> and <c>x</c>: the depth factor <c>s</c> where a norm is scaled.</summary>
        public static string ExtraParameters(BlockProgram program) => program.UsesScale ? ", double s" : "";

        /// <summary>The method body, a line per step then the return; <paramref name="alpha"/> is the residual multiplier's literal.</summary>
        public static IEnumerable<string> Body(BlockProgram program, double alpha)
        {
            yield return "using var scope = global::TorchSharp.torch.NewDisposeScope();";
            foreach (var step in program.Steps) yield return $"var {step.Target} = {Expression(step.Value, alpha)};";
            yield return $"return {program.Steps[program.Steps.Count - 1].Target}.MoveToOuterDisposeScope();";
        }

        /// <summary>One operation as TorchSharp.</summary>
        public static string Expression(BlockExpr e, double alpha) => e switch
        {
            ValueRef v => v.Name,
            NormOf n => $"Norm({Expression(n.Input, alpha)}, layer.{n.Weight}!{(n.Scaled ? ", s" : "")})",
            Branch b => b.Kind == BranchKind.Attention ? $"Attention(layer.self_attn, {Expression(b.Input, alpha)})" : $"Mlp(layer.mlp, {Expression(b.Input, alpha)})",
            Gain g => $"{Expression(g.Input, alpha)}.mul(Weight(layer.{g.Parameter}!))",
            Times t => $"{Expression(t.Input, alpha)}.mul({Literal(t.Factor)})",
            // In place on the branch's fresh output (never on a named value, which later steps may read).
            Residual r => $"{Expression(r.Branch, alpha)}.{(r.Branch is ValueRef ? "add" : "add_")}({r.Skip}{(r.Scale == SkipScale.Alpha ? ", " + Literal(alpha) : "")})",
            HyperMix m => $"HyperMix(layer.{m.Connection}!, {m.Streams})",
            HyperRead r => $"HyperRead({r.Streams}, {r.Mix})",
            HyperWrite w => $"HyperWrite({w.Streams}, {w.Mix}, {Expression(w.Branch, alpha)})",
            _ => throw new ArgumentOutOfRangeException(nameof(e), e, "a block operation without a TorchSharp primitive"),
        };

        /// <summary>A double as a C# literal with round-trip precision in the invariant culture (1/sqrt(7) stays 0.3779644730092272D).</summary>
        public static string Literal(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "not a finite number");
            return value.ToString("R", CultureInfo.InvariantCulture) + "D";
        }
    }
}
