using MoePrune.Data;

namespace MoePrune.Calibration;

/// <summary>
/// Draws <c>k</c> sequences of <c>L</c> tokens from one stratum, spread over as many documents as possible.
/// The documents are shuffled by a generator seeded with (seed, stream); each in turn contributes ONE window of
/// at most <c>cap = max(L, ⌈k·L / documents⌉)</c> tokens at a seeded random offset (a shorter document all of
/// it), until the stratum's <c>k·L</c> tokens are filled. Windows are laid end to end and cut into the
/// sequences; the tokenizer's EOS separates two windows inside a sequence (never at a sequence's start), so a
/// document longer than L fills one sequence on its own. When every document has given its window and tokens
/// are still missing, the documents' remaining tokens follow in the same order (after the window, then before it).
/// </summary>
public static class StratumSampler
{
    /// <returns>The k sequences and how many documents they touch.</returns>
    public static (List<int[]> Sequences, int Documents) Sample(CalibrationStratum stratum, int sequences, int length, int seed,
                                                                 string stream, int? eos)
    {
        long needed = (long)sequences * length;
        var ids = new List<int>((int)Math.Min(needed, int.MaxValue));
        var rng = new SeededRandom(seed, stream);
        var order = Shuffled(stratum.Count, rng);
        long cap = Math.Max(length, (needed + Math.Max(1, stratum.Count) - 1) / Math.Max(1, stratum.Count));
        var windows = new List<(int[] Doc, int Start, int Length)>();
        foreach (int d in order)
        {
            if (ids.Count >= needed) break;
            var doc = stratum.Tokens(d);
            if (doc.Length == 0) continue;
            int w = (int)Math.Min(cap, doc.Length);
            int start = rng.Next(doc.Length - w + 1);
            Append(ids, doc.AsSpan(start, w), needed, length, eos);
            windows.Add((doc, start, w));
        }
        foreach (var (doc, start, w) in windows)                                         // rest, only when short
        {
            if (ids.Count >= needed) break;
            if (start + w < doc.Length) Append(ids, doc.AsSpan(start + w), needed, length, eos);
            if (start > 0 && ids.Count < needed) Append(ids, doc.AsSpan(0, start), needed, length, eos);
        }
        if (ids.Count < needed) return ([], windows.Count);
        var result = new List<int[]>(sequences);
        for (int s = 0; s < sequences; s++) result.Add(ids.GetRange(s * length, length).ToArray());
        return (result, windows.Count);
    }

    /// <summary>Appends a window (EOS first unless at a sequence's start), stopping at <paramref name="needed"/> tokens.</summary>
    private static void Append(List<int> ids, ReadOnlySpan<int> window, long needed, int length, int? eos)
    {
        if (eos is { } e && ids.Count % length != 0 && ids.Count < needed) ids.Add(e);
        int take = (int)Math.Min(window.Length, needed - ids.Count);
        foreach (int id in window[..take]) ids.Add(id);
    }

    private static int[] Shuffled(int count, SeededRandom rng)
    {
        var order = Enumerable.Range(0, count).ToArray();
        for (int i = order.Length - 1; i > 0; i--)                                      // Fisher–Yates
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
