namespace MoePrune.Progress;

/// <summary>One progress report of a long step: <see cref="Done"/> of <see cref="Total"/> units (batches, tensors, subsets).</summary>
/// <param name="Step">Short name of the step ("perplexity", "naee search", "export").</param>
/// <param name="Detail">What is being worked on now (a layer, a source, a file), or null.</param>
public readonly record struct StepUpdate(string Step, long Done, long Total, string Unit, string? Detail = null);

/// <summary>
/// Where long steps report how far they are (perplexity batches, the NAEE subset search, checkpoint and GGUF
/// export, the calibration pass). A front end listens for the duration of a command (<see cref="Listen"/>:
/// the CLI draws it on stderr); with no listener a report costs one null check. The listener flows with the
/// calling context (<see cref="AsyncLocal{T}"/>), so parallel callers (tests) do not see each other's steps.
/// </summary>
public static class StepProgress
{
    private static readonly AsyncLocal<Action<StepUpdate>?> Listener = new();

    /// <summary>Sends every report of this context to <paramref name="listener"/> (as well as to any earlier listener) until the result is disposed.</summary>
    public static IDisposable Listen(Action<StepUpdate> listener)
    {
        var previous = Listener.Value;
        Listener.Value = previous is null ? listener : u => { previous(u); listener(u); };
        return new Restore(previous);
    }

    /// <summary>True when someone listens (skip building details otherwise).</summary>
    public static bool IsListening => Listener.Value is not null;

    public static void Report(string step, long done, long total, string unit, string? detail = null) =>
        Listener.Value?.Invoke(new StepUpdate(step, done, total, unit, detail));

    private sealed class Restore(Action<StepUpdate>? previous) : IDisposable
    {
        public void Dispose() => Listener.Value = previous;
    }
}
