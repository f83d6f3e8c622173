using System;
using System.Linq;

namespace LnsDsl
{
    /// <summary>A problem with the user's input: printed without a stack trace, with exit code <see cref="ExitCode"/>.</summary>
    public class UserError : Exception
    {
        public UserError(string message, int exitCode = 2) : base(message) => ExitCode = exitCode;

        /// <summary>2: bad input (the default); 3: the run diverged.</summary>
        public int ExitCode { get; }
    }

    /// <summary>
    /// Settings with values they cannot take. The message names each setting by its property in braces
    /// (<c>"{Warmup} must be less than {Steps}"</c>, as in <c>TrainOptions.Warmup</c>); <see cref="Exception.Message"/>
    /// shows the property names, and a front end that exposes the settings under other names (the CLI's
    /// <c>--warmup</c>) renders the message with <see cref="For"/>.
    /// </summary>
    public sealed class SettingError : UserError
    {
        private static readonly System.Text.RegularExpressions.Regex Placeholder = new(@"\{([A-Za-z][A-Za-z0-9]*)\}");
        private readonly string _template;

        public SettingError(string template, int exitCode = 2) : base(Render(template, n => n), exitCode) => _template = template;

        /// <summary>The settings the message names, in order.</summary>
        public System.Collections.Generic.IReadOnlyList<string> Settings
            => Placeholder.Matches(_template).Select(m => m.Groups[1].Value).Distinct().ToList();

        /// <summary>The message with each setting called what <paramref name="name"/> returns for it.</summary>
        public string For(Func<string, string> name) => Render(_template, name);

        private static string Render(string template, Func<string, string> name) => Placeholder.Replace(template, m => name(m.Groups[1].Value));
    }
}
