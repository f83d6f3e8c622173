using System;
using static TorchSharp.torch;

namespace LnsDsl
{
    /// <summary>
    /// Rotary cos and sin tables <c>[MaxSeq, HeadDim]</c>, kept in fp32 on the CPU and converted once per device
    /// and dtype they are used with (derived data: neither parameters nor buffers, never in a checkpoint). The model
    /// builds them with <see cref="Fused.RopeTables(ModelSpec)"/>, which honours the spec's <see cref="ModelSpec.RopeScaling"/>
    /// (Linear, Llama3): the scaling lives in the tables, so the forward is the same with or without it.
    /// </summary>
    public sealed class RotaryTables : IDisposable
    {
        private readonly Tensor _cos, _sin;
        private Tensor? _cosOn, _sinOn;

        /// <summary>Takes ownership of <paramref name="cos"/> and <paramref name="sin"/>.</summary>
        public RotaryTables(Tensor cos, Tensor sin)
        {
            _cos = cos.DetachFromDisposeScope();
            _sin = sin.DetachFromDisposeScope();
        }

        /// <summary>The tables in the dtype and on the device of <paramref name="like"/> (cached).</summary>
        public (Tensor Cos, Tensor Sin) For(Tensor like)
        {
            if (_cosOn is null || _cosOn.dtype != like.dtype || _cosOn.device != like.device)
            {
                _cosOn?.Dispose();
                _sinOn?.Dispose();
                _cosOn = _cos.to(like.dtype, like.device).DetachFromDisposeScope();
                _sinOn = _sin.to(like.dtype, like.device).DetachFromDisposeScope();
            }
            return (_cosOn, _sinOn!);
        }

        public void Dispose()
        {
            _cos.Dispose();
            _sin.Dispose();
            _cosOn?.Dispose();
            _sinOn?.Dispose();
        }
    }
}
