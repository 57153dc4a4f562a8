using MoePrune.Evaluation;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Reports;
using MoePrune.Studies;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Studies;

[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class OneShotStudyTests(ITestOutputHelper output)
{
    [Fact]
    public void RowPerplexityEqualsPruneThenPerplexityThroughTheLibrary()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], "mixtral");
        var calib = JobSupport.WriteTokens(tmp["calib.txt"], 60, seed: 1);
        var eval = JobSupport.WriteTokens(tmp["eval.txt"], 12, seed: 2);
        var request = new OneShotStudyRequest
        {
            ModelDir = model, EvalTokensFile = eval, Calibration = $"tokens:{calib}",
            CalibrationSequences = 6, CalibrationLength = 16, CalibrationSeeds = [0, 1], RandomSeeds = [0, 1, 2, 3, 4],
            Ratios = [0.5], BatchSize = 4,
        };
        var result = OneShotStudy.Run(request, output.WriteLine);
        output.WriteLine($"{result.Evaluations} evaluations for {result.Measurements} measurements");
        Assert.Equal(OneShotStudy.Criteria().Count() + 2, result.Rows.Count);                  // + random + naee

        // Independent path: export with PruneJob (its own calibration pass for this criterion only), reload, evaluate.
        foreach (var (criterion, ratio, seedIndex) in new[] { ("min-ean", 0.5, 0), ("max-egn", 0.5, 1) })
        {
            int seed = request.CalibrationSeeds[seedIndex];
            string outDir = tmp[$"p-{criterion}-{ratio}-{seed}"];
            PruneJob.Run(new PruneRequest
            {
                ModelDir = model, OutDir = outDir, Criterion = criterion, Selection = new SelectionRequest { Ratio = ratio },
                Calibration = new() { Spec = $"tokens:{calib}", Sequences = 6, Length = 16, Seed = seed, BatchSize = 4 },
            });
            using var pruned = ModelLoader.Load(outDir);
            double expected = Perplexity.Evaluate(pruned, Perplexity.ReadTokenFile(eval)).Perplexity;
            double actual = result.Row(criterion).ByRatio[ratio][seedIndex].Perplexity;
            output.WriteLine($"{criterion} {ratio} seed {seed}: study {actual:R}, prune+perplexity {expected:R}, rel diff {Math.Abs(actual - expected) / expected:E2}");
            Assert.Equal(expected, actual, expected * 1e-6);
        }

        // Both directions come from the same statistics but drop opposite ends.
        var min = result.Row("min-ean").ByRatio[0.5];
        var max = result.Row("max-ean").ByRatio[0.5];
        Assert.NotEqual(Keys(min[0].Kept), Keys(max[0].Kept));
        Assert.NotEqual(min[0].Perplexity, max[0].Perplexity);

        // Random rows: one measurement per random seed, and the seeds give different selections.
        var random = result.Row("random").ByRatio[0.5];
        Assert.Equal([0, 1, 2, 3, 4], random.Select(m => m.Seed));
        Assert.True(random.Select(m => Keys(m.Kept)).Distinct().Count() > 1, "all random seeds kept the same experts");
        Assert.Equal(request.CalibrationSeeds, result.Row("min-ean").ByRatio[0.5].Select(m => m.Seed));

        // Weight criteria read no data: their calibration seeds agree.
        Assert.Equal(0, result.Row("max-rwn").Sd(0.5));

        var md = OneShotMarkdown.Render(result, new StudyRunInfo("./moeprune study one-shot", "test", "0 0 0", "0 0 0"));
        Assert.Contains("| 1 |", md);
        Assert.Contains("**", md);
    }

    [Fact]
    public void BadOptionsAreRefusedBeforeLoading()
    {
        var request = new OneShotStudyRequest { ModelDir = "/nonexistent", Ratios = [0.5, 1.0] };
        var e = Assert.Throws<MoePruneException>(() => OneShotStudy.Run(request));
        Assert.StartsWith("ratios:", e.Message);
        e = Assert.Throws<MoePruneException>(() => OneShotStudy.Run(request with { Ratios = [0.5], RandomSeeds = [1, 1] }));
        Assert.StartsWith("random-seeds:", e.Message);
    }

    private static string Keys(IReadOnlyDictionary<int, int[]> kept) =>
        string.Join(";", kept.OrderBy(k => k.Key).Select(k => $"{k.Key}:{string.Join(",", k.Value)}"));
}
