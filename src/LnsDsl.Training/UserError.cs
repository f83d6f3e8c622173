using System;

namespace LnsDsl.Training
{
    /// <summary>A problem with the user's input: printed without a stack trace, with exit code <see cref="ExitCode"/>.</summary>
    public sealed class UserError : Exception
    {
        public UserError(string message, int exitCode = 2) : base(message) => ExitCode = exitCode;

        /// <summary>2: bad input (the default); 3: the run diverged.</summary>
        public int ExitCode { get; }
    }
}
