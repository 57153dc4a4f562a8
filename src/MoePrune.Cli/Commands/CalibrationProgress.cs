using MoePrune.Criteria;
using Spectre.Console;

namespace MoePrune.Cli.Commands;

/// <summary>The calibration pass's progress bar on stderr, shared by the commands that run one (score, prune).</summary>
public static class CalibrationProgress
{
    /// <summary>
    /// Runs <paramref name="work"/> with a Spectre progress bar on stderr when stderr is a terminal and no
    /// JSON was asked for; otherwise runs it silently.
    /// </summary>
    public static T Run<T>(bool json, Func<Action<ScoringProgress>?, T> work)
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
}
