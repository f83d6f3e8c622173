using System;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LnsDsl
{
    /// <summary>
    /// Addresses of LibTorch tensor memory, for code that reads or writes it in place (the safetensors reader and
    /// writer, the CPU Adam kernel). TorchSharp does not expose them; LibTorchSharp exports the two functions.
    /// </summary>
    public static class TensorMemory
    {
        /// <summary>The address of a tensor's first element.</summary>
        public static IntPtr DataPointer(Tensor tensor)
        {
            IntPtr p = Native.THSTensor_data(tensor.Handle);
            if (p == IntPtr.Zero) throw new InvalidOperationException("LibTorch gave no data pointer for a tensor with elements");
            return p;
        }

        /// <summary>The address of the start of a tensor's storage (shared by all views of it); zero for none.</summary>
        public static IntPtr StoragePointer(Tensor tensor) => Native.THSStorage_data_ptr(tensor.Handle);

        private static class Native
        {
            [DllImport("LibTorchSharp")]
            internal static extern IntPtr THSTensor_data(IntPtr tensor);

            [DllImport("LibTorchSharp")]
            internal static extern IntPtr THSStorage_data_ptr(IntPtr tensor);
        }
    }
}
