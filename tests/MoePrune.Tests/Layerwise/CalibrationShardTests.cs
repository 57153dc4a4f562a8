using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Layerwise;

/// <summary>
/// <c>score --shard K/N</c> then <c>--merge-stats</c> against one pass over everything (N = 3, in memory and layer by
/// layer, and as N separate processes as a batch scheduler would run them), and the refusals of bad shards.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class CalibrationShardTests(ITestOutputHelper output)
{
    [Fact]
    public void SlicesAreWholeBatchesThatCoverTheSetOnceInOrder()
    {
        var data = new CalibrationSet
        {
            Spec = "x,y", SequenceLength = 2, Seed = 0,
            Sources = [new CalibrationSourceUse("x", 1, 7, 14, 1), new CalibrationSourceUse("y", 1, 3, 6, 1)],
            Sequences = Enumerable.Range(0, 10).Select(i => new CalibrationSequence(i < 7 ? "x" : "y", [i, i])).ToList(),
        };
        // batches of 2 by source: x [0,1] [2,3] [4,5] [6], y [7,8] [9] — 6 batches; shards 2, 2, 2 batches
        var slices = Enumerable.Range(1, 3).Select(k => new CalibrationShard(k, 3).Apply(data, batchSize: 2)).ToList();
        Assert.Equal([[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]], slices.Select(s => s.Sequences.Select(q => q.Ids[0]).ToArray()));
        Assert.Equal("x,y (10 x 2 tokens, seed 0) [shard 2/3]", slices[1].Describe());
        Assert.Equal("x,y (10 x 2 tokens, seed 0) in batches of 2", slices[1].ShardOf());
        Assert.Equal("2/3", slices[1].ToJson()["shard"]!.GetValue<string>());
        Assert.True(slices[2].IsMix);                                                       // sources as in the whole set
        var e = Assert.Throws<MoePruneException>(() => new CalibrationShard(1, 7).Apply(data, 2, "--shard"));
        Assert.StartsWith("--shard 1/7: the calibration set makes 6 batch(es)", e.Message);
        foreach (var bad in new[] { "3/2", "0/0", "0/3", "1", "a/b", "1/2/3", "-1/2" })
            Assert.StartsWith($"--shard {bad}:", Assert.Throws<MoePruneException>(() => CalibrationShard.Parse(bad, "--shard")).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ThreeShardsMergedEqualOnePass(bool layerwise)
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], family: "qwen2_moe", seed: 4);
        var spec = LayerwiseSupport.Mix(tmp, JobSupport.Vocab);
        var criteria = LayerwiseSupport.ForwardCriteria;
        var execution = new MoePrune.Layerwise.LayerwiseSettings { Force = layerwise };
        ScoreRequest Request(string outFile, CalibrationShard? shard = null, string? save = null, IReadOnlyList<string>? merge = null) => new()
        {
            ModelDir = model, OutFile = tmp[outFile], Criteria = criteria, SaveStats = save, MergeStats = merge ?? [], Execution = execution,
            Calibration = new() { Spec = spec, Sequences = 10, Length = 12, BatchSize = 2, InputSampleRows = 50, Shard = shard },
        };
        ScoreJob.Run(Request("single.json"));
        var parts = new List<string>();
        foreach (int k in new[] { 3, 1, 2 })                                                // any order: merged in shard order
        {
            parts.Add(tmp[$"part{k}.st"]);
            var r = ScoreJob.Run(Request($"part{k}.json", new CalibrationShard(k, 3), parts[^1]));
            Assert.Equal($"{k}/3", r.Stats!.Shard);
        }
        var merged = ScoreJob.Run(Request("merged.json", merge: parts));
        Assert.Null(merged.Stats!.Shard);
        var single = ScoresReport.Load(tmp["single.json"]);
        LayerwiseSupport.AssertSameScores(single, ScoresReport.Load(tmp["merged.json"]), output);
        Assert.Equal(10 * 12, single.Metadata.Tokens);
    }

    [Fact]
    public async Task ThreeProcessesThenAMergeEqualOnePass()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], family: "mixtral", seed: 6);
        var spec = LayerwiseSupport.Mix(tmp, JobSupport.Vocab);
        string[] common = ["score", model, "--calib", spec, "--calib-sequences", "9", "--calib-seq-len", "10", "--batch-size", "2", "--criteria", "min-ean,reap,frequency,naee", "--json"];
        var shards = Enumerable.Range(1, 3).Select(k => Task.Run(() =>
            CliProcess.Run([.. common, "--shard", $"{k}/3", "--save-stats", tmp[$"s{k}.st"], "--out", tmp[$"s{k}.json"]]))).ToArray();
        foreach (var (code, _, stderr) in await Task.WhenAll(shards))
            Assert.True(code == 0, stderr);
        var merge = CliProcess.Run([.. common[..2], "--criteria", "min-ean,reap,frequency,naee", "--merge-stats", tmp["s1.st"], tmp["s2.st"], tmp["s3.st"], "--out", tmp["merged.json"]]);
        Assert.True(merge.Code == 0, merge.Stderr);
        var single = CliProcess.Run([.. common, "--out", tmp["single.json"]]);
        Assert.True(single.Code == 0, single.Stderr);
        LayerwiseSupport.AssertSameScores(ScoresReport.Load(tmp["single.json"]), ScoresReport.Load(tmp["merged.json"]), output);
    }

    [Fact]
    public void BadShardsAndBadMergesAreOneLineRefusalsThatWriteNothing()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], seed: 3);
        var spec = $"tokens:{JobSupport.WriteTokens(tmp["a.txt"], 30)}";
        string[] Score(params string[] extra) => ["score", model, "--calib", spec, "--calib-sequences", "6", "--calib-seq-len", "8", "--criteria", "min-ean", .. extra,
                                                   .. extra.Contains("--batch-size") ? Array.Empty<string>() : ["--batch-size", "1"]];
        Assert.Equal(0, JobSupport.Cli(Score("--shard", "1/3", "--save-stats", tmp["one.st"], "--out", tmp["one.json"])));
        Assert.Equal(0, JobSupport.Cli(Score("--shard", "2/3", "--save-stats", tmp["two.st"], "--out", tmp["two.json"])));
        Assert.Equal(0, JobSupport.Cli(Score("--shard", "3/3", "--save-stats", tmp["three.st"], "--out", tmp["three.json"])));
        Assert.Equal(0, JobSupport.Cli(Score("--shard", "2/3", "--batch-size", "2", "--save-stats", tmp["two-b2.st"], "--out", tmp["two-b2.json"])));
        Assert.Equal(0, JobSupport.Cli(Score("--shard", "1/2", "--save-stats", tmp["half.st"], "--out", tmp["half.json"])));
        Assert.Equal(0, JobSupport.Cli(Score("--save-stats", tmp["whole.st"], "--out", tmp["whole.json"])));
        Assert.Equal(0, JobSupport.Cli(["score", model, "--calib", spec, "--calib-sequences", "6", "--calib-seq-len", "8", "--criteria", "reap", "--batch-size", "1",
                                        "--shard", "3/3", "--save-stats", tmp["reap3.st"], "--out", tmp["reap3.json"]]));
        var cases = new (string[] Args, string Expect)[]
        {
            (Score("--shard", "3/2", "--save-stats", tmp["x.st"], "--out", tmp["x.json"]), "--shard 3/2: shard K must be between 1 and N = 2"),
            (Score("--shard", "0/0", "--save-stats", tmp["x.st"], "--out", tmp["x.json"]), "--shard 0/0: the number of shards N must be at least 1"),
            (Score("--shard", "1/7", "--save-stats", tmp["x.st"], "--out", tmp["x.json"]), "shard 1 of 7 would be empty"),
            (Score("--merge-stats", tmp["one.st"], tmp["two-b2.st"], tmp["three.st"], "--out", tmp["x.json"]), "merge the shards of one split"),
            (Score("--shard", "1/3", "--out", tmp["x.json"]), "--shard 1/3: give --save-stats"),
            (Score("--merge-stats", tmp["one.st"], tmp["two.st"], "--out", tmp["x.json"]), "shard(s) 3 of 3 missing"),
            (Score("--merge-stats", tmp["one.st"], tmp["one.st"], "--out", tmp["x.json"]), "shard 1/3 is also given as"),
            (Score("--merge-stats", tmp["one.st"], tmp["half.st"], "--out", tmp["x.json"]), "merge the shards of one split"),
            (Score("--merge-stats", tmp["whole.st"], tmp["one.st"], "--out", tmp["x.json"]), "merge either whole passes or all shards of one"),
            (Score("--merge-stats", tmp["one.st"], tmp["two.st"], tmp["reap3.st"], "--out", tmp["x.json"]), "collect every part for the same criteria"),
        };
        foreach (var (args, expect) in cases)
        {
            var (code, stdout, stderr) = JobSupport.CliOutput(args);
            output.WriteLine(stderr.Trim());
            Assert.Equal(1, code);
            Assert.Single(JobSupport.Lines(stderr));
            Assert.Contains(expect, stderr);
            Assert.False(File.Exists(tmp["x.json"]) || File.Exists(tmp["x.st"]), string.Join(" ", args));
        }
    }
}
