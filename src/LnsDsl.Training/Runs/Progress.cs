using System;
using System.Globalization;

namespace LnsDsl.Runs
{
    /// <summary>
    /// The progress display: on a terminal, one line redrawn in place (bar, step, loss, lr, tokens/s, elapsed,
    /// ETA); when the output is redirected (CI, logs), a plain line every 10 steps and at the end.
    /// </summary>
    public sealed class Progress
    {
        private readonly int _steps;
        private readonly bool _interactive = !Console.IsOutputRedirected;
        private bool _dirty;

        public Progress(int steps) => _steps = steps;

        public void Update(int step, double loss, double lr, double tokensPerSecond, double elapsed, double stepsPerSecond)
        {
            var c = CultureInfo.InvariantCulture;
            double eta = (_steps - step) / Math.Max(stepsPerSecond, 1e-9);
            string text = string.Format(c, "step {0,5}/{1}  loss {2,7:F4}  lr {3:0.00e+0}  {4,8:N0} tok/s  elapsed {5}  eta {6}",
                step, _steps, loss, lr, tokensPerSecond, Time(elapsed), Time(eta));
            if (_interactive)
            {
                int width = 24, filled = (int)Math.Round(width * (double)step / _steps);
                Console.Write("\r[" + new string('#', filled) + new string('.', width - filled) + "] " + text + "   ");
                _dirty = true;
            }
            else if (step == 1 || step % 10 == 0 || step == _steps)
            {
                Console.WriteLine(text);
            }
        }

        public void Message(string text)
        {
            Done();
            Console.WriteLine(text);
        }

        public void Done()
        {
            if (_dirty) Console.WriteLine();
            _dirty = false;
        }

        private static string Time(double seconds)
            => seconds >= 3600 ? TimeSpan.FromSeconds(seconds).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
                : TimeSpan.FromSeconds(seconds).ToString(@"m\:ss", CultureInfo.InvariantCulture);
    }
}
