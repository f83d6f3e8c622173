using System;
using TorchSharp;
using static TorchSharp.torch;

namespace LnsDsl
{
    /// <summary>The device and dtype settings (<c>Device</c>, <c>Dtype</c>) every verb that runs a model shares.</summary>
    public static class Devices
    {
        /// <summary>auto (CUDA when available), cpu, cuda or cuda:N.</summary>
        public static Device Resolve(string device)
        {
            string d = device.Trim().ToLowerInvariant();
            if (d == "auto") return cuda.is_available() ? CUDA : CPU;
            if (d == "cpu") return CPU;
            if (d == "cuda" || d.StartsWith("cuda:", StringComparison.Ordinal))
            {
                if (!cuda.is_available())
                    throw new SettingError("{Device} " + device + ": CUDA is not available here (this build uses the '" + typeof(torch).Assembly.GetName().Name
                        + "' CPU backend or no GPU is visible); build with -p:LnsTorchBackend=cuda on a CUDA machine, or use cpu");
                return torch.device(d);
            }
            throw new SettingError("{Device} '" + device + "' is not one of auto, cpu, cuda, cuda:N");
        }

        /// <summary>
        /// The weights' dtype for running a trained model (evaluate, analyze, sample, import): fp32; bf16 or bf16-pure:
        /// the weights cast to bf16. Without training there is no small update to lose, and a weight cast once gives the
        /// matmuls the same bf16 operands as mixed precision's cast at each use, at half the memory (for RMSNorm models
        /// the forward is the same as the mixed-precision training forward; LayerNorm and Gemma's 1 + w norms see
        /// their weights rounded to bf16). Empty: fp32 on the CPU, bf16 on CUDA. <see cref="ResolvePrecision"/> is the
        /// training form.
        /// </summary>
        public static (ScalarType Type, string Name) ResolveDtype(string dtype, Device device)
        {
            var p = ResolvePrecision(dtype, device);
            return (p.Compute, p.Name);
        }

        /// <summary>
        /// The <c>Dtype</c> setting for training (train, bench): fp32; bf16 (mixed precision: fp32 parameters, so fp32
        /// master weights, gradients and optimiser state, with the forward computing in bf16, <see cref="TransformerModule.ComputeDtype"/>);
        /// bf16-pure (the whole model cast to bf16, the paper's code: updates below half a bf16 ulp of a weight are lost).
        /// Empty: fp32 on the CPU, bf16 (mixed) on CUDA.
        /// </summary>
        public static Precision ResolvePrecision(string dtype, Device device)
        {
            string name = dtype.Length > 0 ? dtype.ToLowerInvariant() : device.type == DeviceType.CUDA ? "bf16" : "fp32";
            return name switch
            {
                "fp32" or "float32" => new Precision(name, ScalarType.Float32, ScalarType.Float32),
                "bf16" or "bfloat16" => new Precision(name, ScalarType.Float32, ScalarType.BFloat16),
                "bf16-pure" or "bfloat16-pure" => new Precision(name, ScalarType.BFloat16, ScalarType.BFloat16),
                _ => throw new SettingError("{Dtype} '" + dtype + "' is not fp32, bf16 (mixed precision) or bf16-pure"),
            };
        }
    }

    /// <summary>A resolved <c>Dtype</c> setting: the parameters' dtype and the dtype the forward computes in.</summary>
    public sealed record Precision(string Name, ScalarType Parameters, ScalarType Compute)
    {
        /// <summary>fp32 parameters computing in a narrower dtype.</summary>
        public bool Mixed => Parameters != Compute;

        /// <summary>Casts <paramref name="model"/>'s parameters (after its move to the device) and sets its compute dtype.</summary>
        public void Apply(TransformerModule model)
        {
            if (Parameters != ScalarType.Float32) model.to(Parameters);
            model.ComputeDtype = Mixed ? Compute : null;
        }
    }
}
