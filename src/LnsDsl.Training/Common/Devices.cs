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

        /// <summary>The dtype named by the <c>Dtype</c> setting (fp32 or bf16); empty: fp32 on the CPU, bf16 on CUDA.</summary>
        public static (ScalarType Type, string Name) ResolveDtype(string dtype, Device device)
        {
            string name = dtype.Length > 0 ? dtype.ToLowerInvariant() : device.type == DeviceType.CUDA ? "bf16" : "fp32";
            return name switch
            {
                "fp32" or "float32" => (ScalarType.Float32, name),
                "bf16" or "bfloat16" => (ScalarType.BFloat16, name),
                _ => throw new SettingError("{Dtype} '" + dtype + "' is not fp32 or bf16"),
            };
        }
    }
}
