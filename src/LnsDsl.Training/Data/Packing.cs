namespace LnsDsl.Data
{
    /// <summary>How sequences are cut from the token stream.</summary>
    public enum Packing
    {
        /// <summary>Windows of the concatenated documents (end-of-text between them): no padding, every token trains.</summary>
        Pack,
        /// <summary>The paper's mode: one document per sequence, truncated or padded; padding is ignored in the loss.</summary>
        Document,
    }
}
