using MoePrune.Criteria;
using Spectre.Console;

namespace MoePrune.Cli.Commands;

/// <summary>Terminal output of <c>score</c> and <c>prune</c>: a progress bar on stderr and ranked tables per layer.</summary>
public static class ScoreCommandOutput
{
    /// <summary>
    /// Runs <paramref name="work"/> with a Spectre progress bar on stderr when stderr is a terminal and no
    /// JSON was asked for; otherwise runs it silently.
    /// </summary>
    public static T WithProgress<T>(bool json, Func<Action<ScoringProgress>?, T> work)
    {
        if (json || Console.IsErrorRedirected) return work(null);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                return work(p =>
                {
                    task ??= ctx.AddTask("calibration", maxValue: p.TotalTokens);
                    task.Description = $"calibration [grey]{Markup.Escape(p.Source)}[/]";
                    task.Value = p.Tokens;
                });
            });
    }

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
