using MoePrune.Criteria;
using Spectre.Console;

namespace MoePrune.Cli.Commands;

/// <summary>Terminal output of <c>score</c>: ranked tables per layer and NAEE's subsets.</summary>
public static class ScoreCommandOutput
{
    /// <summary>One table per layer: a row per criterion, its experts in drop order (first dropped on the left).</summary>
    public static void PrintRankings(ScoresReport report)
    {
        var layers = report.Criteria.Values.SelectMany(c => c.Layers.Keys).Distinct().Order();
        foreach (int layer in layers)
        {
            int experts = report.Criteria.Values.Select(c => c.Layers.TryGetValue(layer, out var l) ? l.Values.Length : 0).Max();
            var table = new Table().Title($"layer {layer}: experts in drop order (first dropped on the left)");
            table.AddColumn("criterion");
            for (int r = 0; r < experts; r++) table.AddColumn(new TableColumn(r.ToString()).RightAligned());
            foreach (var name in report.Criteria.Keys)
            {
                var scores = report.ToScores(name);
                if (!scores.Layers.ContainsKey(layer)) continue;
                table.AddRow([name, .. scores.DropOrder(layer).Select(e => e.ToString())]);
            }
            AnsiConsole.Write(table);
        }
        if (report.Naee is { } naee)
            foreach (var (layer, r) in naee)
                AnsiConsole.MarkupLine($"naee layer {layer}: keep [bold]{string.Join(",", r.Best.Experts)}[/] (error {r.Best.Error:G6})");
    }
}
