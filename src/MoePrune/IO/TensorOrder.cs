using System.Text.RegularExpressions;

namespace MoePrune.IO;

/// <summary>
/// The canonical order of state-dict names that every tensor source presents and every export writes:
/// dot-separated parts compared one by one, all-digit parts as numbers, others ordinally. So
/// <c>lm_head.weight</c>, <c>model.embed_tokens.weight</c>, <c>model.layers.2.*</c> before <c>model.layers.10.*</c>,
/// experts in index order, then <c>model.norm.weight</c>. It depends on the names only, never on how a
/// source stores them, so an export is byte-identical whichever source it was made from.
/// </summary>
public static partial class TensorOrder
{
    [GeneratedRegex(@"^model\.layers\.(\d+)\.")]
    private static partial Regex LayerPrefix();

    public static readonly IComparer<string> Comparer = Comparer<string>.Create(Compare);

    /// <summary>The decoder layer of a tensor (<c>model.layers.{i}.*</c>), or null for embeddings, final norm and lm_head.</summary>
    public static int? LayerOf(string name)
    {
        var m = LayerPrefix().Match(name);
        return m.Success ? int.Parse(m.Groups[1].ValueSpan) : null;
    }

    public static int Compare(string? a, string? b)
    {
        if (ReferenceEquals(a, b)) return 0;
        if (a is null) return -1;
        if (b is null) return 1;
        var x = a.AsSpan();
        var y = b.AsSpan();
        while (true)
        {
            int i = x.IndexOf('.'), j = y.IndexOf('.');
            var px = i < 0 ? x : x[..i];
            var py = j < 0 ? y : y[..j];
            int c = ComparePart(px, py);
            if (c != 0) return c;
            if (i < 0 || j < 0) return (i < 0 ? 0 : 1) - (j < 0 ? 0 : 1);   // the shorter name first
            x = x[(i + 1)..];
            y = y[(j + 1)..];
        }
    }

    private static int ComparePart(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        bool da = IsDigits(a), db = IsDigits(b);
        if (da && db)
        {
            var ta = a.TrimStart('0');
            var tb = b.TrimStart('0');
            if (ta.Length != tb.Length) return ta.Length.CompareTo(tb.Length);
            int c = ta.SequenceCompareTo(tb);
            return c != 0 ? c : a.Length.CompareTo(b.Length);
        }
        return a.SequenceCompareTo(b);                                         // ordinal
    }

    private static bool IsDigits(ReadOnlySpan<char> s) => s.Length > 0 && !s.ContainsAnyExceptInRange('0', '9');
}
