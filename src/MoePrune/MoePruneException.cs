namespace MoePrune;

/// <summary>
/// A user-facing error: bad input, an unsupported setting, a refused operation. The message is one
/// line that names the file (or option) and what is wrong; the CLI prints it without a stack trace and
/// exits non-zero. <see cref="Details"/> holds the complete list where the message shows only the
/// first few items (printed with <c>--verbose</c>).
/// </summary>
public class MoePruneException : Exception
{
    public IReadOnlyList<string> Details { get; }

    public MoePruneException(string message, IReadOnlyList<string>? details = null, Exception? inner = null)
        : base(message, inner)
    {
        Details = details ?? [];
    }

    /// <summary>Formats "N things: a, b, c, d, e and N-5 more" for a message; the full list goes to Details.</summary>
    public static string Summarize(IReadOnlyCollection<string> items, int show = 5)
    {
        var head = string.Join(", ", items.Take(show));
        return items.Count > show ? $"{head} and {items.Count - show} more" : head;
    }
}
