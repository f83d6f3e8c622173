using System;

namespace LnsDsl.Interop
{
    /// <summary>
    /// A safetensors file or checkpoint that breaks the format. The message names the file, the tensor where
    /// there is one, and the problem; <see cref="File"/>, <see cref="Tensor"/> and <see cref="Problem"/> hold
    /// them apart.
    /// </summary>
    public sealed class SafeTensorsFormatException : UserError
    {
        public SafeTensorsFormatException(string file, string? tensor, string problem)
            : this(file, tensor, problem, problemNamesTensor: false)
        {
        }

        /// <param name="problemNamesTensor">The problem's text names the tensor already (no "tensor 'x':" before it).</param>
        public SafeTensorsFormatException(string file, string? tensor, string problem, bool problemNamesTensor)
            : base(tensor is null || problemNamesTensor ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}")
        {
            File = file;
            Tensor = tensor;
            Problem = problem;
        }

        /// <summary>The file (or checkpoint directory) at fault.</summary>
        public string File { get; }

        /// <summary>The tensor at fault, where there is one.</summary>
        public string? Tensor { get; }

        /// <summary>The problem, without the file and tensor.</summary>
        public string Problem { get; }
    }
}
