using System.Globalization;
using System.Text;
using MoePrune.Criteria;

namespace MoePrune.Cli.Commands;

/// <summary>
/// Terminal output of <c>score</c>: per layer a plain table, one row per criterion, its experts in drop order
/// (first dropped on the left) as <c>expert id: value</c>; then NAEE's kept subsets. Plain text with fixed
/// columns so it never wraps mid-title and reads the same in a log.
/// </summary>
public static class ScoreTable
{
    /// <summary>Experts shown per row; wider layers show the first ones dropped, an ellipsis, and the last kept.</summary>
    public const int MaxShown = 10;

    public static void Print(ScoresReport report) => Console.Write(Render(report));

    public static string Render(ScoresReport report)
    {
        var sb = new StringBuilder();
        var layers = report.Criteria.Values.SelectMany(c => c.Layers.Keys).Distinct().Order().ToList();
        foreach (int layer in layers)
        {
            var rows = new List<(string Name, List<string> Cells)>();
            foreach (var name in report.Criteria.Keys)
            {
                var scores = report.ToScores(name);
                if (!scores.Layers.TryGetValue(layer, out var values)) continue;
                var order = scores.DropOrder(layer).ToList();
                var cells = order.Select(e => $"{e}: {values.Values[e].ToString("G3", CultureInfo.InvariantCulture)}").ToList();
                if (cells.Count > MaxShown) cells = [.. cells.Take(MaxShown - 2), "…", cells[^1]];
                rows.Add((name, cells));
            }
            if (rows.Count == 0) continue;
            int nameWidth = Math.Max("criterion".Length, rows.Max(r => r.Name.Length));
            int columns = rows.Max(r => r.Cells.Count);
            var widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => c < r.Cells.Count ? r.Cells[c].Length : 0)).ToArray();
            sb.AppendLine($"layer {layer}: expert: value, in drop order (dropped first on the left)");
            foreach (var (name, cells) in rows)
                sb.AppendLine("  " + name.PadRight(nameWidth) + "  " + string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }
        if (report.Naee is { } naee)
            foreach (var (layer, r) in naee)
                sb.AppendLine($"naee layer {layer}: keeps experts {string.Join(",", r.Best.Experts)} (reconstruction error {r.Best.Error.ToString("G6", CultureInfo.InvariantCulture)})");
        return sb.ToString();
    }
}
