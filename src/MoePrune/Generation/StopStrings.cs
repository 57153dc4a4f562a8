namespace MoePrune.Generation;

/// <summary>
/// Stop strings of a generation (lm-evaluation-harness's <c>until</c>): generation stops once the decoded text
/// contains any of them, and the text is cut before the earliest one.
/// </summary>
public sealed class StopStrings(IReadOnlyList<string> stops)
{
    private readonly string[] _stops = stops.Where(s => s.Length > 0).ToArray();

    public IReadOnlyList<string> Values => _stops;

    /// <summary>True when <paramref name="text"/> contains a stop string.</summary>
    public bool Reached(string text) => _stops.Any(s => text.Contains(s, StringComparison.Ordinal));

    /// <summary><paramref name="text"/> up to (excluding) the earliest stop string; the whole text when none occurs.</summary>
    public string Cut(string text)
    {
        int end = text.Length;
        foreach (var s in _stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && at < end) end = at;
        }
        return text[..end];
    }
}
