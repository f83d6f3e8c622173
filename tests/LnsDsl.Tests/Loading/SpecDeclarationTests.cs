using System;
using System.Linq;
using System.Runtime.CompilerServices;
using LnsDsl.Interop;
using LnsDsl.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using LnsDsl.Compilation;

namespace LnsDsl.Tests.Loading
{
    /// <summary>A stored architecture declared again compiles to the same architecture, field by field.</summary>
    public sealed class SpecDeclarationTests
    {
        private readonly ITestOutputHelper _output;

        public SpecDeclarationTests(ITestOutputHelper output)
        {
            _output = output;
            RuntimeHelpers.RunClassConstructor(typeof(TinyLayerNormGelu).TypeHandle);
            ModelCatalog.Register(typeof(TinyLayerNormGelu).Assembly);
        }

        [Fact]
        public void Every_test_model_declared_from_its_spec_resolves_to_the_same_spec()
        {
            // Every architecture the test models cover (each placement, norm type, the imported vocabulary), declared
            // again from its spec; one compilation for all of them.
            var specs = ModelCatalog.All.Where(e => e.Type.Assembly == typeof(TinyLayerNormGelu).Assembly).Select(e => e.Spec).ToList();
            Assert.True(specs.Count >= 20, $"only {specs.Count} test models");
            string text = SpecDeclaration.Source(specs.Select(spec => (spec, "Again" + spec.Name)), "every test model, declared again", "LnsDsl.Tests.Redeclared");
            ModelCompiler.Compile(text, "Again" + specs[0].Name);
            foreach (var spec in specs)
            {
                var again = ModelCatalog.Get("LnsDsl.Tests.Redeclared.Again" + spec.Name).Spec;
                var differences = ArchitectureComparison.Differences(spec, again);
                Assert.True(differences.Count == 0, $"{spec.Name}: {string.Join("; ", differences)}");
                Assert.Equal(spec.ParameterCount, again.ParameterCount);
            }
            _output.WriteLine($"{specs.Count} architectures declared again from their specs, all equal; e.g.\n{SpecDeclaration.Source(specs.First(s => s.Name == "TinyGemma2Like"), "TinyGemma2Like")}");
        }

        [Fact]
        public void The_same_declaration_compiled_in_two_caches_is_one_model()
        {
            // Two cache directories (LNSDSL_CACHE differs between users and between parallel tests): the same source then
            // exists as two files of the same assembly name, and .NET loads only one of them.
            string name = "Twice" + Guid.NewGuid().ToString("N");
            string source = SpecDeclaration.Source(ModelCatalog.Get("TinyLayerNormGelu").Spec, name);
            string root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lnsdsl-twice-" + name);
            try
            {
                var entries = new[] { "a", "b" }.Select(d => ModelCompiler.Compile(source, name, System.IO.Path.Combine(root, d))).ToList();
                Assert.Same(entries[0].Type, entries[1].Type);
            }
            finally
            {
                try { System.IO.Directory.Delete(root, recursive: true); } catch (System.IO.IOException) { }
            }
        }
    }
}
