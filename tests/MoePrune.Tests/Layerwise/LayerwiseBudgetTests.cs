using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Layerwise;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Layerwise;

/// <summary>
/// The memory budget: layer by layer chosen when the model does not fit, hidden states spilled to a file beyond the
/// budget with the same scores, no tensor left behind, and the refusals (a budget smaller than one layer, gradient
/// criteria, merged statistics of another checkpoint) as one line, exit 1, nothing written.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class LayerwiseBudgetTests(ITestOutputHelper output)
{
    [Fact]
    public void ChoosesLayerwiseOnlyWhenTheModelExceedsTheBudget()
    {
        using var tmp = new TempDir();
        using var checkpoint = LayerwiseCheckpoint.Open(JobSupport.WriteModel(tmp["m"]));
        var sizes = checkpoint.Sizes;
        // independent count: OLMoE, hidden 32, 3 layers (8 experts of 24), vocab 64, fp32 — attention (q, k, v, o: 4 heads of 8,
        // 2 KV heads; q_norm 32 and k_norm 16 wide) and the two layer norms, by hand
        long attention = 32 * 32 + 2 * (16 * 32) + 32 * 32 + 32 + 16, experts = 8 * 3 * 32 * 24, router = 8 * 32, norms = 2 * 32;
        Assert.Equal(4 * (attention + experts + router + norms), sizes.Layers[1]);
        Assert.Equal(4L * 64 * 32, sizes.Embedding);
        Assert.Equal(sizes.Embedding * 2 + 4 * 32 + 3 * sizes.Layers[1], sizes.Model);
        var names = OptionNames.Neutral;
        Assert.False(ExecutionChoice.Decide(checkpoint, new() { MemoryBudget = 2 * sizes.Model }, names).Layerwise);
        var chosen = ExecutionChoice.Decide(checkpoint, new() { MemoryBudget = sizes.Model / 2 }, names);
        Assert.True(chosen.Layerwise);
        Assert.Contains("more than the memory budget", chosen.Reason);
        Assert.Equal(sizes.Model / 2 - sizes.LargestUnit, chosen.HiddenMemoryBytes(sizes));
        Assert.True(ExecutionChoice.Decide(checkpoint, new() { Force = true }, names).Layerwise);
        var e = Assert.Throws<MoePruneException>(() => ExecutionChoice.Decide(checkpoint, new() { MemoryBudget = sizes.LargestUnit - 1 }, names));
        Assert.Contains("smaller than the largest part", e.Message);
    }

    [Fact]
    public void WithAReferenceTheBudgetMustHoldBothModelsInMemoryOrBothOutputProjections()
    {
        using var model = LayerwiseCheckpoint.Open(DefaultModelFiles.Directory());
        using var reference = LayerwiseCheckpoint.Open(DefaultModelFiles.Directory());
        var sizes = model.Sizes;
        var names = OptionNames.Neutral;
        Assert.False(ExecutionChoice.Decide(model, new() { MemoryBudget = 3 * sizes.Model }, names, reference).Layerwise);
        var chosen = ExecutionChoice.Decide(model, new() { MemoryBudget = 3 * sizes.Model / 2 }, names, reference);  // each fits, not both
        Assert.True(chosen.Layerwise);
        Assert.Contains("the model and its reference need", chosen.Reason);
        Assert.True(2 * sizes.Output > sizes.LargestUnit, "the default model's two output projections exceed its largest part");
        var e = Assert.Throws<MoePruneException>(() => ExecutionChoice.Decide(model, new() { MemoryBudget = 2 * sizes.Output - 1 }, names, reference));
        Assert.Contains("smaller than the two output projections the KL gate holds at once", e.Message);
        Assert.True(ExecutionChoice.Decide(model, new() { MemoryBudget = 2 * sizes.Output }, names, reference).Layerwise);
    }

    [Fact]
    public void NaeeHoldsOneLayersInputSampleAtATimeUnlessTheStatisticsAreSaved()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], family: "olmoe", seed: 5);
        ScoreRequest Request(string file, string? save) => new()
        {
            ModelDir = model, OutFile = tmp[file], Criteria = [CriterionSpec.Parse("naee")], Execution = new() { Force = true }, SaveStats = save,
            Calibration = new() { Spec = LayerwiseSupport.Mix(tmp, JobSupport.Vocab), Sequences = 6, Length = 16, BatchSize = 3, InputSampleRows = 40 },
        };
        var freed = ScoreJob.Run(Request("freed.json", null));
        var kept = ScoreJob.Run(Request("kept.json", tmp["stats.bin"]));
        Assert.All(freed.Stats!.Layers.Values, l => Assert.False(l.Has(MoePrune.Criteria.Statistics.LayerInputSample.Kind)));
        Assert.All(kept.Stats!.Layers.Values, l => Assert.True(l.Has(MoePrune.Criteria.Statistics.LayerInputSample.Kind)));
        LayerwiseSupport.AssertSameScores(ScoresReport.Load(tmp["kept.json"]), ScoresReport.Load(tmp["freed.json"]), output);
    }

    [Fact]
    public void SpilledHiddenStatesGiveTheSameScoresAndNothingLeaks()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], family: "olmoe", seed: 8);
        long largest;
        using (var c = LayerwiseCheckpoint.Open(model)) largest = c.Sizes.LargestUnit;
        ScoreRequest Request(string file, LayerwiseSettings execution) => new()
        {
            ModelDir = model, OutFile = tmp[file], Criteria = LayerwiseSupport.ForwardCriteria, Execution = execution,
            Calibration = new() { Spec = LayerwiseSupport.Mix(tmp, JobSupport.Vocab), Sequences = 8, Length = 16, BatchSize = 3, InputSampleRows = 40 },
        };
        ScoreJob.Run(Request("memory.json", new()));
        ScoreJob.Run(Request("warm.json", new() { Force = true, MemoryBudget = largest + 1, SpillDir = tmp.Path }));
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var spilled = ScoreJob.Run(Request("spilled.json", new() { Force = true, MemoryBudget = largest + 1, SpillDir = tmp.Path }));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(spilled.Layerwise!.Spilled);
        Assert.Equal(8L * 16 * 32 * 4, spilled.Layerwise.HiddenBytes);
        Assert.Empty(Directory.GetFiles(tmp.Path, "moeprune-hidden-*"));                      // the spill file is gone
        LayerwiseSupport.AssertSameScores(ScoresReport.Load(tmp["memory.json"]), ScoresReport.Load(tmp["spilled.json"]), output);
    }

    [Fact]
    public void HiddenStatesRoundTripInMemoryAndInAFile()
    {
        using var tmp = new TempDir();
        long[][] shapes = [[2, 3, 4], [1, 5, 4]];
        foreach (long budget in new[] { long.MaxValue, 10L })
        {
            using var store = new HiddenStates(shapes, torch.ScalarType.BFloat16, budget, tmp.Path);
            Assert.Equal(budget < 100, store.Spilled);
            Assert.Equal((24 + 20) * 2, store.Bytes);
            var values = shapes.Select(s => torch.randn(s).to(torch.ScalarType.BFloat16)).ToArray();
            for (int round = 0; round < 2; round++)
                for (int i = 0; i < 2; i++)
                {
                    if (round > 0) store.Take(i).Dispose();
                    store.Put(i, values[i].clone());
                }
            for (int i = 0; i < 2; i++)
                using (var back = store.Take(i))
                    Assert.True(back.eq(values[i]).all().item<bool>(), $"batch {i} (budget {budget})");
            Assert.Throws<ArgumentException>(() => store.Put(0, torch.zeros(2, 3, 5, dtype: torch.ScalarType.BFloat16)));
            foreach (var v in values) v.Dispose();
        }
        Assert.Empty(Directory.GetFiles(tmp.Path));
    }

    [Fact]
    public void RefusalsAreOneLineAndWriteNothing()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], seed: 2);
        var other = JobSupport.WriteModel(tmp["other"], seed: 9);
        var spec = $"tokens:{JobSupport.WriteTokens(tmp["a.txt"], 20)}";
        string[] calib = ["--calib", spec, "--calib-sequences", "4", "--calib-seq-len", "8"];
        Assert.Equal(0, JobSupport.Cli(["score", other, .. calib, "--criteria", "min-ean", "--save-stats", tmp["other.st"], "--out", tmp["other.json"]]));
        var cases = new (string[] Args, string Expect)[]
        {
            (["score", model, .. calib, "--criteria", "min-ean", "--memory-budget", "1K", "--out", tmp["x.json"]], "--memory-budget 1.0 kB: smaller than the largest part"),
            (["prune", model, .. calib, "--criterion", "min-ean", "--drop", "1", "--memory-budget", "4k", "--out", tmp["x"]], "--memory-budget 4.1 kB: smaller than the largest part"),
            (["perplexity", model, "--token-file", tmp["a.txt"], "--memory-budget", "100"], "smaller than the largest part"),
            (["score", model, .. calib, "--memory-budget", "lots", "--out", tmp["x.json"]], "--memory-budget lots: expected a positive size"),
            (["score", model, .. calib, "--criteria", "min-ean,min-egn", "--layerwise", "--out", tmp["x.json"]], "criteria min-egn: gradient criteria need a backward pass"),
            (["prune", model, .. calib, "--criterion", "max-egs", "--drop", "1", "--layerwise", "--out", tmp["x"]], "criteria max-egs: gradient criteria"),
            (["score", model, "--criteria", "min-ean", "--merge-stats", tmp["other.st"], "--layerwise", "--out", tmp["x.json"]], "statistics of checkpoint"),
        };
        foreach (var (args, expect) in cases)
        {
            var (code, _, stderr) = JobSupport.CliOutput(args);
            output.WriteLine(stderr.Trim());
            Assert.Equal(1, code);
            Assert.Single(JobSupport.Lines(stderr));
            Assert.Contains(expect, stderr);
            Assert.False(File.Exists(tmp["x.json"]) || Directory.Exists(tmp["x"]), string.Join(" ", args));
        }
    }
}
