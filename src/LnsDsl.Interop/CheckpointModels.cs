using LnsDsl.Runs;

namespace LnsDsl.Interop
{
    /// <summary>
    /// The model class of a checkpoint. A checkpoint records its class name and its resolved architecture; when no
    /// class of that name is in this process (a converted checkpoint, a model declared in another project), the
    /// architecture is declared again (<see cref="SpecDeclaration"/>) and compiled with the project's generator, so
    /// the checkpoint can be evaluated, analysed, sampled and trained on without its declaration.
    /// </summary>
    public static class CheckpointModels
    {
        /// <summary>The model for <paramref name="path"/> (a run directory or checkpoint): <paramref name="model"/> when
        /// given, else the recorded class; the recorded class (given or not) is compiled from the recorded architecture
        /// when it is not known here.</summary>
        public static ModelEntry Resolve(string path, string? model = null)
        {
            if (model is not null && ModelCatalog.TryGet(model, out var named)) return named;
            string checkpoint = Checkpoint.Resolve(path);
            var state = Checkpoint.PeekState(checkpoint);
            if (state.Model.Length == 0) throw new UserError($"checkpoint '{checkpoint}' is corrupt: state.json names no model");
            if (model is not null && model != state.Model) return ModelCatalog.Get(model); // another class: it must be known (names the closest)
            if (ModelCatalog.TryGet(state.Model, out var entry)) return entry;
            if (state.Spec is null) return ModelCatalog.Get(state.Model); // the first format: the class must be known; names the closest
            // No origin in the source: the same architecture compiles once, whichever checkpoint asks.
            return ModelCompiler.Compile(SpecDeclaration.Source(state.Spec, state.Model), state.Model);
        }
    }
}
