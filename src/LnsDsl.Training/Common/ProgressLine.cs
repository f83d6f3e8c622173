using System;
using System.Diagnostics;
using System.Globalization;

namespace LnsDsl
{
    /// <summary>
    /// A progress bar for long data work (tokenising, building a token cache): rows done, megabytes of input read,
    /// the rate and the time left, e.g. <c>tokenising [#########-----------]  45%  812,345 rows  921.3/2,048.0 MB
    /// 31.5 MB/s  ETA 0:35</c>. On a terminal it redraws one line at most four times a second; elsewhere (a log, CI) it
    /// writes a line every ten seconds. Silent without an output.
    /// </summary>
    public sealed class ProgressLine
    {
        private readonly string _what;
        private readonly long _totalBytes;
        private readonly System.IO.TextWriter? _output;
        private readonly bool _terminal;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan? _last;

        /// <param name="what">What is being done ("tokenising").</param>
        /// <param name="totalBytes">The input's size (0: unknown; then no bar and no ETA).</param>
        /// <param name="output">Where lines go (null: nowhere); on a terminal (standard error not redirected) the line is redrawn in place.</param>
        public ProgressLine(string what, long totalBytes, System.IO.TextWriter? output, bool? terminal = null)
        {
            _what = what;
            _totalBytes = totalBytes;
            _output = output;
            _terminal = terminal ?? (output is not null && ReferenceEquals(output, Console.Error) && !Console.IsErrorRedirected);
        }

        /// <summary>Rows done and input bytes read so far; draws when it is time.</summary>
        public void Report(long rows, long bytes)
        {
            if (_output is null) return;
            var now = _clock.Elapsed;
            if (_last is { } last && now - last < (_terminal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(10))) return;
            _last = now;
            Draw(rows, bytes, final: false);
        }

        /// <summary>The last line, with the totals.</summary>
        public void Done(long rows, long bytes) => Draw(rows, bytes, final: true);

        /// <summary>The line for <paramref name="rows"/> and <paramref name="bytes"/> after <paramref name="elapsed"/>.</summary>
        public string Format(long rows, long bytes, TimeSpan elapsed)
        {
            var c = CultureInfo.InvariantCulture;
            double mb = bytes / 1e6, seconds = Math.Max(elapsed.TotalSeconds, 1e-9), rate = mb / seconds;
            string text = string.Format(c, "{0} {1:N0} rows  {2:N1}", _what, rows, mb);
            if (_totalBytes > 0)
            {
                double fraction = Math.Clamp((double)bytes / _totalBytes, 0, 1);
                int filled = (int)Math.Round(fraction * 20);
                string bar = new string('#', filled) + new string('-', 20 - filled);
                var left = rate > 0 ? TimeSpan.FromSeconds((_totalBytes - bytes) / 1e6 / rate) : TimeSpan.Zero;
                text = string.Format(c, "{0} [{1}] {2,3:0}%  {3:N0} rows  {4:N1}/{5:N1} MB  {6:N1} MB/s  ETA {7}",
                    _what, bar, fraction * 100, rows, mb, _totalBytes / 1e6, rate, Clock(left));
            }
            else
            {
                text += string.Format(c, " MB  {0:N1} MB/s", rate);
            }
            return text;
        }

        private void Draw(long rows, long bytes, bool final)
        {
            if (_output is null) return;
            string line = Format(rows, bytes, _clock.Elapsed);
            if (final) line += string.Format(CultureInfo.InvariantCulture, "  done in {0}", Clock(_clock.Elapsed));
            if (!_terminal) _output.WriteLine(line);
            else if (final) _output.WriteLine("\r" + line + "\u001b[K");
            else _output.Write("\r" + line + "\u001b[K");
        }

        private static string Clock(TimeSpan t)
            => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes}:{t.Seconds:00}";
    }
}
