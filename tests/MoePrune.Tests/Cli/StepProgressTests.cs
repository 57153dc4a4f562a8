using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Progress;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>
/// The long steps report through <see cref="StepProgress"/>: perplexity per batch, the NAEE search per subset,
/// the checkpoint export per tensor's bytes; each step ends with done = total (the CLI then clears its line).
/// </summary>
[Collection(ConsoleCollection.Name)]
public class StepProgressTests(ITestOutputHelper output)
{
    static List<StepUpdate> Recorded(Action work)
    {
        var updates = new List<StepUpdate>();
        using (StepProgress.Listen(u => { lock (updates) updates.Add(u); }))
            work();
        return updates;
    }

    [Fact]
    public void PerplexityNaeeAndExportReportUntilDone()
    {
        using var tmp = new TempDir();
        var dir = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        using var model = ModelLoader.Load(dir);
        var sequences = Perplexity.ReadTokenFile(tokens);
        var ppl = Recorded(() => Perplexity.Evaluate(model, sequences, batchSize: 7));
        Assert.All(ppl, u => Assert.Equal("perplexity", u.Step));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (long)Math.Min(30, 7 * i)), ppl.Select(u => u.Done));    // 0, 7, …, 30
        Assert.All(ppl, u => Assert.Equal(30, u.Total));

        var prune = Recorded(() => Assert.Equal(0, JobSupport.Cli("prune", dir, "--criterion", "naee", "--keep", "6", "--no-eval", "--out", tmp["p"], "--json",
            "--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "12")));
        var steps = prune.Select(u => u.Step).Distinct().ToList();
        output.WriteLine(string.Join(", ", steps.Select(s => $"{s}: {prune.Count(u => u.Step == s)} reports, last {prune.Last(u => u.Step == s).Done}/{prune.Last(u => u.Step == s).Total}")));
        Assert.Equal(["calibration", "naee search", "export"], steps);
        foreach (var s in steps)
        {
            var last = prune.Last(u => u.Step == s);
            Assert.Equal(last.Total, last.Done);
        }
        Assert.Equal(3 * 28, prune.Last(u => u.Step == "naee search").Total);            // C(8, 6) subsets in each of 3 layers
        Assert.Equal(4 * PruneCostTests.HeaderElements(tmp["p"]), prune.Last(u => u.Step == "export").Total);   // f32 tensor bytes written
    }
}

/// <summary>The CLI's drawing of steps: a redrawn line on a terminal, cleared at the end; plain lines in a log.</summary>
public class StderrProgressTests(ITestOutputHelper output)
{
    [Fact]
    public void TerminalRedrawsOneLineAndClearsItPlainModePrintsLines()
    {
        var terminal = new StringWriter();
        using (new MoePrune.Cli.StderrProgress(terminal: true, terminal, TimeSpan.Zero))
        {
            StepProgress.Report("perplexity", 0, 4, "sequences");
            StepProgress.Report("perplexity", 4, 4, "sequences");
        }
        output.WriteLine(terminal.ToString().Replace("\u001b", "ESC").Replace("\r", "CR"));
        Assert.Equal("\rperplexity: 0% (0/4 sequences)\u001b[K\r\u001b[K", terminal.ToString());

        var log = new StringWriter();
        using (new MoePrune.Cli.StderrProgress(terminal: false, log, TimeSpan.Zero))
        {
            StepProgress.Report("export", 1L << 20, 4L << 20, "bytes", "out");
            StepProgress.Report("export", 4L << 20, 4L << 20, "bytes", "out");
        }
        output.WriteLine(log.ToString());
        var line = Assert.Single(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("export [out]: 25% (1.0 MiB of 4.0 MiB), ", line);
        Assert.EndsWith(" left", line);
    }
}
