using System.Diagnostics;
using MoePrune.Criteria;
using MoePrune.Progress;

namespace MoePrune.Cli;

/// <summary>
/// Draws the library's long steps (<see cref="StepProgress"/>) on stderr for the duration of a command, also
/// under <c>--json</c> (stdout stays one JSON object). On a terminal: one status line redrawn in place (at most
/// 5 times a second) and cleared when the step ends. Otherwise (a log, a pipe): a plain line every
/// <see cref="PlainInterval"/> while a step runs, none for steps shorter than that.
/// </summary>
public sealed class StderrProgress : IDisposable
{
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(200);

    private readonly object _gate = new();
    private readonly bool _terminal;
    private readonly TextWriter _writer;
    private readonly TimeSpan _plainInterval;
    private readonly IDisposable _listening;
    private readonly Stopwatch _stepClock = new(), _sinceDrawn = new();
    private string? _step;
    private bool _lineShown;

    /// <param name="terminal">Redraw one line in place (else print plain lines every <paramref name="plainInterval"/>).</param>
    public StderrProgress(bool terminal, TextWriter writer, TimeSpan plainInterval)
    {
        _terminal = terminal;
        _writer = writer;
        _plainInterval = plainInterval;
        _listening = StepProgress.Listen(Update);
    }

    /// <summary>Starts listening on stderr; dispose to stop (and clear the status line).</summary>
    public static StderrProgress Start() => new(!Console.IsErrorRedirected, Console.Error, PlainInterval);

    /// <summary>The calibration pass's reports as a step (the jobs take it as their progress callback).</summary>
    public static Action<ScoringProgress> Calibration { get; } =
        p => StepProgress.Report("calibration", p.Tokens, p.TotalTokens, "tokens", p.Source);

    private void Update(StepUpdate u)
    {
        lock (_gate)
        {
            if (u.Step != _step)
            {
                Clear();
                _step = u.Step;
                _stepClock.Restart();
                _sinceDrawn.Restart();
            }
            bool finished = u.Total > 0 && u.Done >= u.Total;
            if (_terminal)
            {
                if (finished) { Clear(); _step = null; return; }
                if (_lineShown && _sinceDrawn.Elapsed < TerminalInterval) return;
                _writer.Write("\r" + Describe(u) + "\u001b[K");
                _lineShown = true;
                _sinceDrawn.Restart();
                return;
            }
            if (finished) { _step = null; return; }
            if (_sinceDrawn.Elapsed < _plainInterval) return;
            _writer.WriteLine(Describe(u));
            _sinceDrawn.Restart();
        }
    }

    /// <summary>"perplexity: 45% (120/267 sequences), 0:42 left" (with the detail in brackets when given).</summary>
    private string Describe(StepUpdate u)
    {
        string detail = u.Detail is null ? "" : $" [{u.Detail}]";
        if (u.Total <= 0) return $"{u.Step}{detail}: {Amount(u.Done, u.Unit)} done, {Clock(_stepClock.Elapsed)} so far";
        double fraction = Math.Clamp((double)u.Done / u.Total, 0, 1);
        string left = fraction > 0 ? $", {Clock(_stepClock.Elapsed * ((1 - fraction) / fraction))} left" : "";
        string amount = u.Unit == "bytes" ? $"{Amount(u.Done, u.Unit)} of {Amount(u.Total, u.Unit)}"
                                          : FormattableString.Invariant($"{u.Done:N0}/{u.Total:N0} {u.Unit}");
        return FormattableString.Invariant($"{u.Step}{detail}: {fraction * 100:F0}% ({amount}){left}");
    }

    private static string Amount(long n, string unit) =>
        unit != "bytes" ? FormattableString.Invariant($"{n:N0} {unit}")
        : n >= 1L << 30 ? FormattableString.Invariant($"{n / (double)(1L << 30):F2} GiB")
        : FormattableString.Invariant($"{n / (double)(1L << 20):F1} MiB");

    private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes}:{t.Seconds:D2}";

    private void Clear()
    {
        if (!_lineShown) return;
        _writer.Write("\r\u001b[K");
        _lineShown = false;
    }

    public void Dispose()
    {
        lock (_gate) Clear();
        _listening.Dispose();
    }
}
