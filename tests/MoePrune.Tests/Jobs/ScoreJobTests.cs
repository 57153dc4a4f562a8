using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Jobs;

/// <summary><c>score</c>: determinism, merged statistics equal one pass, per-source scores, metadata and the checkpoint hash.</summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class ScoreJobTests(ITestOutputHelper output)
{
    static double MaxRelDiff(double[] a, double[] b) =>
        a.Zip(b, (x, y) => Math.Abs(x - y) / Math.Max(1e-12, Math.Max(Math.Abs(x), Math.Abs(y)))).Max();

    [Fact]
    public void ScoresAreDeterministicForAFixedSeed()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 60);
        var progress = new List<ScoringProgress>();
        ScoreResult Score(string outFile, int seed) => ScoreJob.Run(new ScoreRequest
        {
            ModelDir = model, OutFile = outFile,
            Calibration = new() { Spec = $"tokens:{tokens}", Sequences = 6, Length = 16, Seed = seed, BatchSize = 4 },
        }, progress.Add);
        Score(tmp["s1.json"], 0);
        Assert.Equal([64L, 96L], progress.Select(p => p.Tokens));                        // batches of 4 and 2 sequences × 16
        Assert.All(progress, p => Assert.Equal(96L, p.TotalTokens));
        Score(tmp["s2.json"], 0);
        Score(tmp["s3.json"], 1);
        var (one, two, three) = (JobSupport.Values(tmp["s1.json"]), JobSupport.Values(tmp["s2.json"]), JobSupport.Values(tmp["s3.json"]));
        Assert.Equal(19, one.Count);
        foreach (var (criterion, layers) in one)
            foreach (var (layer, values) in layers)
            {
                Assert.Equal(values, two[criterion][layer]);
                Assert.All(values, v => Assert.True(double.IsFinite(v), $"{criterion} layer {layer}: {v}"));
            }
        Assert.NotEqual(one["min-ean"]["1"], three["min-ean"]["1"]);                   // another seed, other sequences
        Assert.Equal(one["max-rwn"]["1"], three["max-rwn"]["1"]);                        // weight criteria do not read data
    }

    [Fact]
    public void MergedStatisticsThroughTheCliEqualOnePassOverEverything()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], seed: 2);
        var a = JobSupport.WriteTokens(tmp["a.txt"], 50, seed: 1);
        var b = JobSupport.WriteTokens(tmp["b.txt"], 50, seed: 2);
        string[] common = ["--calib-seq-len", "12", "--batch-size", "2", "--criteria", "all", "--json"];
        Assert.Equal(0, JobSupport.Cli(["score", model, "--calib", $"tokens:{a}", "--calib-sequences", "4", "--out", tmp["a.json"], "--save-stats", tmp["a.st"], .. common]));
        Assert.Equal(0, JobSupport.Cli(["score", model, "--calib", $"tokens:{b}", "--calib-sequences", "4", "--out", tmp["b.json"], "--save-stats", tmp["b.st"], .. common]));
        Assert.Equal(0, JobSupport.Cli(["score", model, "--merge-stats", tmp["a.st"], tmp["b.st"], "--out", tmp["merged.json"], .. common]));
        Assert.Equal(0, JobSupport.Cli(["score", model, "--calib", $"tokens:{a}=1,tokens:{b}=1", "--calib-sequences", "8", "--out", tmp["one.json"], .. common]));

        var merged = JobSupport.Values(tmp["merged.json"]);
        var one = JobSupport.Values(tmp["one.json"]);
        Assert.Equal(one.Keys.Order(), merged.Keys.Order());
        foreach (var (criterion, layers) in one)
            foreach (var (layer, values) in layers)
            {
                double diff = MaxRelDiff(values, merged[criterion][layer]);
                output.WriteLine($"{criterion,-14} layer {layer}: max relative difference {diff:E2}");
                Assert.True(diff < (criterion is "max-egs" or "min-ege" or "min-egn" ? 1e-5 : 1e-10), $"{criterion} layer {layer}: {diff}");
            }
        Assert.Equal(one["min-ego"], merged["min-ego"]);
        Assert.Equal(one["max-ecc"], merged["max-ecc"]);

        // per-source scores of the mix are the scores of that source alone
        var mix = JsonNode.Parse(File.ReadAllText(tmp["one.json"]))!;
        var aAlone = JobSupport.Values(tmp["a.json"]);
        foreach (var layer in new[] { "0", "1", "2" })
        {
            var perSource = mix["criteria"]!["min-ean"]!["sources"]!["tokens:a.txt"]![layer]!["values"]!.AsArray().Select(v => (double)v!);
            Assert.Equal(aAlone["min-ean"][layer], perSource);
        }
        Assert.Equal(48L, (long)mix["metadata"]!["source_tokens"]!["tokens:b.txt"]!);
        Assert.Equal(96L, (long)JsonNode.Parse(File.ReadAllText(tmp["merged.json"]))!["metadata"]!["tokens"]!);
    }

    [Fact]
    public void ScoresRecordCalibrationAndTheCheckpointFingerprint()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var a = JobSupport.WriteTokens(tmp["a.txt"], 40);
        Assert.Equal(0, JobSupport.Cli("score", model, "--calib", $"tokens:{a}", "--calib-sequences", "3", "--calib-seq-len", "10",
                                           "--criteria", "min-ean,max-rwn", "--out", tmp["s.json"], "--json"));
        var meta = JsonNode.Parse(File.ReadAllText(tmp["s.json"]))!["metadata"]!;
        Assert.Equal(IndependentHash(model), (string)meta["checkpoint_fingerprint"]!);
        Assert.Equal(30L, (long)meta["tokens"]!);
        Assert.Equal($"tokens:{a}", (string)meta["calibration_data"]!["spec"]!);
        Assert.Equal(30L, (long)meta["calibration_data"]!["sources"]!["tokens:a.txt"]!["tokens"]!);
        Assert.Equal(10, (int)meta["calibration_data"]!["sequence_length"]!);

        var before = CheckpointFingerprint.Compute(model);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!;
        config["rms_norm_eps"] = 1e-5;
        File.WriteAllText(Path.Combine(model, "config.json"), config.ToJsonString());
        Assert.NotEqual(before, CheckpointFingerprint.Compute(model));
    }

    [Fact]
    public void ANaeeKeptCountOutsideTheLayersIsRefusedBeforeThePass()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var a = JobSupport.WriteTokens(tmp["a.txt"], 40);
        var progress = new List<ScoringProgress>();
        var ex = Assert.Throws<MoePruneException>(() => ScoreJob.Run(new ScoreRequest
        {
            ModelDir = model, OutFile = tmp["s.json"], Criteria = CriterionSpec.ParseList("naee"), SubsetKeep = 1,
            Calibration = new() { Spec = $"tokens:{a}", Sequences = 3, Length = 10 },
        }, progress.Add));
        Assert.Equal("subset-keep: 1 is outside [top-k 2, 8 experts] for layer 0", ex.Message);
        Assert.Empty(progress);
        Assert.False(File.Exists(tmp["s.json"]));
        var (code, _, stderr) = JobSupport.CliOutput("score", model, "--criteria", "naee", "--naee-keep", "9", "--out", tmp["s.json"]);
        Assert.Equal(1, code);
        Assert.Equal("error: --naee-keep: 9 is outside [top-k 2, 8 experts] for layer 0", Assert.Single(JobSupport.Lines(stderr)));
    }

    /// <summary>The documented recipe, written out from the raw files (see CheckpointFingerprintTests).</summary>
    static string IndependentHash(string dir) => CheckpointFingerprintTests.NaiveFingerprint(dir);
}
