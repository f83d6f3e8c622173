namespace LnsDsl.Data
{
    /// <summary>
    /// The held-out rule shared by the corpora's validation split, fine-tuning's held-out examples and the
    /// continuation task's items: with <see cref="Every"/> or more documents (examples), every 20th one, index 19, 39,
    /// ... (0-based), is held out.
    /// </summary>
    public static class HeldOut
    {
        public const int Every = 20;

        public static bool Is(int index) => index % Every == Every - 1;

        /// <summary><see cref="Is(int)"/> for a streamed corpus's row index.</summary>
        public static bool Is(long index) => index % Every == Every - 1;
    }
}
