using System.Globalization;
using System.Text;

namespace LnsDsl.Interop.PyTorch
{
    /// <summary>The README.md of a PyTorch export: the commands, the engine versions tried, and what matches lnsrun.</summary>
    public static class PyTorchReadme
    {
        public static string Text(ModelSpec spec, PyTorchRunOptions? run)
        {
            var c = CultureInfo.InvariantCulture;
            var o = run?.Options;
            var sb = new StringBuilder();
            sb.AppendLine($"# {spec.Name} for PyTorch");
            sb.AppendLine();
            sb.AppendLine(string.Format(c, "{0}: {1} blocks x {2}, {3}, {4:N0} parameters, exported by LnsDsl from its `ModelSpec`{5}.",
                spec.Name, spec.Layers, spec.Hidden, spec.PlacementLabel, spec.ParameterCount,
                run is null ? " at its initialisation" : run.Step == 0 ? " at its initialisation (step 0)" : $" at step {run.Step}"));
            sb.AppendLine();
            sb.AppendLine("| file | what |");
            sb.AppendLine("| --- | --- |");
            sb.AppendLine("| `model.py` | the architecture as a PyTorch module, generated from the model's spec: each block's placement and factors are literals in it |");
            sb.AppendLine("| `config.json` | the architecture record (LnsDsl's `ModelSpec`: every field, each block's placement, LNS factor, residual multiplier, init std) |");
            sb.AppendLine("| `model.safetensors` | the weights under LnsDsl's names; **fused** projections: `qkv_proj` holds q, then k, then v rows; `gate_up_proj` gate then up |");
            sb.AppendLine("| `options.json` | the whole recipe (train.py has no defaults of its own; its flags only override): the run's training options, Adam's constants, the parameters AdamW decays, the step the weights are at, the token cache directory and the end-of-text id |");
            sb.AppendLine("| `train.py` | continues training with the same recipe and the same batches, under `torchrun` (DDP, or FSDP with `--fsdp`) |");
            sb.AppendLine("| `lnsdsl_tokenizer.json` | the tokenizer (LnsDsl's description; lnsrun reads it) |");
            sb.AppendLine();
            sb.AppendLine("## Commands");
            sb.AppendLine();
            sb.AppendLine("```bash");
            sb.AppendLine("python3 -c 'import model, torch; m = model.load(\".\"); print(m(torch.zeros(1, 8, dtype=torch.long)).shape)'");
            sb.AppendLine("python3 train.py --out run                                   # one process");
            sb.AppendLine("torchrun --nproc_per_node 2 train.py --out run               # DDP on 2 CPU processes (gloo) or GPUs (nccl)");
            sb.AppendLine("python3 train.py --out run --steps 500                       # train further than the run's own --steps");
            sb.AppendLine("torchrun --nproc_per_node 8 train.py --out run --fsdp --dtype bf16   # FSDP on 8 GPUs");
            sb.AppendLine("lnsrun eval --checkpoint run/checkpoints/step-NNNNNNN        # back in lnsrun: eval, analyze, generate");
            sb.AppendLine("```");
            sb.AppendLine();
            if (o is not null)
            {
                sb.AppendLine(string.Format(c, "The recipe in options.json: {0} steps of {1} x {2} tokens (micro-batch {3}), {12}, peak lr {4:G4}, {5} warmup steps then cosine to {6:G3} x peak, weight decay {7:G3}, clipping {8}, seed {9}, {10} packing; data from `{11}`.",
                    o.Steps, o.Batch, o.Seq, o.MicroBatchSize, o.Lr, o.Warmup, o.MinLrRatio, o.WeightDecay, o.Clip > 0 ? o.Clip.ToString("G3", c) : "off", o.Seed,
                    o.Packing.ToString().ToLowerInvariant(), run!.Cache ?? "(none: give --cache)",
                    o.Optimizer == "adamw" ? (o.DecayEmbeddings ? "AdamW (decoupled decay of the matrices and the embedding)" : "AdamW (decoupled decay of the matrices, not the embedding)") : "Adam (L2 weight decay)"));
                sb.AppendLine();
            }
            sb.AppendLine("## The same as lnsrun, and not");
            sb.AppendLine();
            sb.AppendLine("- The same: the function (checked: logits equal lnsrun's to 1e-5 in fp32 for every placement), the learning-rate schedule, the loss, clipping, Adam, and the batches: step k draws from the same SplitMix64(seed, k) generator (a port of .NET's seeded `System.Random`) over the same memory-mapped token cache, whose header and checksum are verified. From an initialisation, 20 steps reproduce lnsrun's losses step by step (fp32).");
            sb.AppendLine("- Not the same: training restarts with a fresh Adam state (lnsrun's optimizer state is not exported), so continuing from a step other than 0 is not bit-for-bit lnsrun's continuation; under DDP the gradients are averaged across processes in another order (differences at fp32 rounding); evaluation and TensorBoard stay in lnsrun.");
            sb.AppendLine("- LNS trains as LNS here: the factors are literals of the architecture, not folded into weights (unlike the Hugging Face export).");
            sb.AppendLine();
            sb.AppendLine("Tried with PyTorch 1.13 (Debian's python3-torch, CPU, gloo), one process and `torchrun --nproc_per_node 2` (that torchrun on Python 3.11 needs `--redirects 1 --tee 1`: it cannot parse their default). FSDP (`--fsdp`) and CUDA (nccl) are written to PyTorch's documented APIs but were not run by LnsDsl's tests. `scaled_dot_product_attention` is used where PyTorch has it (2.0 and newer), an exact fallback elsewhere.");
            return sb.ToString();
        }
    }
}
