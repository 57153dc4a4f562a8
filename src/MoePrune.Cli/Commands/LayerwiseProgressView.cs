using MoePrune.Criteria;
using MoePrune.Layerwise;
using Spectre.Console;

namespace MoePrune.Cli.Commands;

/// <summary>
/// Progress on stderr of a job that may run in memory (<see cref="CalibrationProgress"/>'s bar) or layer by layer: on
/// a terminal two bars (layers, batches of the current layer); otherwise one line per part read and freed with its
/// read throughput, plus one per batch with --verbose.
/// </summary>
public static class LayerwiseProgressView
{
    public static T Run<T>(bool json, bool verbose, Func<Action<ScoringProgress>?, Action<LayerwiseProgress>?, T> work)
    {
        if (json || Console.IsErrorRedirected) return work(null, p => Line(p, verbose));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? calibration = null, layers = null, batches = null;
                return work(p =>
                {
                    calibration ??= ctx.AddTask("calibration", maxValue: p.TotalTokens);
                    calibration.Description = $"calibration [grey]{Markup.Escape(p.Source)}[/]";
                    calibration.Value = p.Tokens;
                }, p =>
                {
                    layers ??= ctx.AddTask("layers", maxValue: Math.Max(1, p.Layers));
                    batches ??= ctx.AddTask("batches", maxValue: Math.Max(1, p.Batches));
                    layers.Description = $"{Part(p)} [grey]{p.ReadMegabytesPerSecond:F0} MB/s read[/]";
                    layers.Value = p.Layer < 0 ? (p.Part == "head" ? p.Layers : 0) : p.Layer + (p.Stage == LayerwiseStage.Done ? 1 : 0);
                    batches.Value = p.Batch;
                });
            });
    }

    private static void Line(LayerwiseProgress p, bool verbose)
    {
        if (p.Stage == LayerwiseStage.Loaded) return;
        if (p.Stage == LayerwiseStage.Batch && !verbose) return;
        string batches = p.Batches == 0 ? "weights only" : $"batch {p.Batch}/{p.Batches}";
        Console.Error.WriteLine($"{Part(p)}: {batches}; read {CheckpointSizes.Format(p.BytesRead)} in {p.ReadSeconds:F1} s ({p.ReadMegabytesPerSecond:F0} MB/s); "
                                + $"{p.Seconds:F1} s; RSS {CheckpointSizes.Format(Benchmarks.LoadMemory.StatusBytes("VmRSS"))}");
    }

    private static string Part(LayerwiseProgress p) => p.Part == "layer" ? $"layer {p.Layer + 1}/{p.Layers}" : p.Part;
}
