using LnsDsl.Cli.Options;
using LnsDsl.Data;

namespace LnsDsl.Cli.Verbs
{
    /// <summary>A verb that runs a model: the device options.</summary>
    public abstract class DeviceVerb : Verb, IDeviceOptions
    {
        public string? Device { get; set; }
        public string? Dtype { get; set; }
        public int? Threads { get; set; }
    }

    /// <summary>A verb that trains: the data and the whole training recipe (train, compare).</summary>
    public abstract class RecipeVerb : DeviceVerb, IDataOptions, IPackingOption, IRecipeOptions
    {
        public string? Data { get; set; }
        public string? TextColumn { get; set; }
        public string? Tokenizer { get; set; }
        public int? Compact { get; set; }
        public Packing? Packing { get; set; }
        public int? Steps { get; set; }
        public int? Batch { get; set; }
        public int? MicroBatch { get; set; }
        public int? Seq { get; set; }
        public int? Warmup { get; set; }
        public double? MinLrRatio { get; set; }
        public double? WeightDecay { get; set; }
        public double? Clip { get; set; }
        public string? Optimizer { get; set; }
        public bool DecayEmbeddings { get; set; }
        public int? EvalEvery { get; set; }
        public int? EvalBatches { get; set; }
        public int? CheckpointEvery { get; set; }
        public int? KeepCheckpoints { get; set; }
    }
}
