using System.Text.Json.Nodes;
using MoePrune.Criteria.Statistics;
using MoePrune.IO;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Jobs;

/// <summary>
/// Statistics and scores only ever describe the checkpoint they were computed on: merged statistics and
/// reused scores of another checkpoint are refused with one line naming both sides, and nothing is written.
/// </summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class StatisticsGuardTests(ITestOutputHelper output)
{
    static string[] Calib(string tokens) => ["--calib", $"tokens:{tokens}", "--calib-sequences", "3", "--calib-seq-len", "10"];

    [Fact]
    public void StatisticsOfAnEightExpertModelAreRefusedOnASixExpertModel()
    {
        using var tmp = new TempDir();
        var eight = JobSupport.WriteModel(tmp["eight"], experts: 8);
        var six = JobSupport.WriteModel(tmp["six"], experts: 6);
        var a = JobSupport.WriteTokens(tmp["a.txt"], 30);
        Assert.Equal(0, JobSupport.Cli(["score", eight, "--criteria", "min-ean", "--out", tmp["e.json"], "--save-stats", tmp["e.st"], "--json", .. Calib(a)]));
        var (code, stdout, stderr) = JobSupport.CliOutput("score", six, "--criteria", "min-ean", "--merge-stats", tmp["e.st"], "--out", tmp["s.json"]);
        output.WriteLine(stderr);
        Assert.Equal(1, code);
        var line = Assert.Single(JobSupport.Lines(stderr));
        Assert.StartsWith($"error: {tmp["e.st"]}: statistics of MoE layers 0,1,2 of 8 experts, but {Path.Combine(six, "config.json")} has MoE layers 0,1,2 of 6 experts", line);
        Assert.Empty(stdout);
        Assert.False(File.Exists(tmp["s.json"]));
    }

    [Fact]
    public void StatisticsOfAnotherCheckpointAreRefusedNamingBothFiles()
    {
        using var tmp = new TempDir();
        var m1 = JobSupport.WriteModel(tmp["m1"], seed: 1);
        var m2 = JobSupport.WriteModel(tmp["m2"], seed: 2);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(m2, "config.json")))!;
        config["rms_norm_eps"] = 1e-5;                                                  // another checkpoint of the same shape
        File.WriteAllText(Path.Combine(m2, "config.json"), config.ToJsonString());
        var a = JobSupport.WriteTokens(tmp["a.txt"], 30);
        var b = JobSupport.WriteTokens(tmp["b.txt"], 30, seed: 3);
        Assert.Equal(0, JobSupport.Cli(["score", m1, "--criteria", "min-ean", "--out", tmp["1.json"], "--save-stats", tmp["1.st"], "--json", .. Calib(a)]));
        Assert.Equal(0, JobSupport.Cli(["score", m2, "--criteria", "min-ean", "--out", tmp["2.json"], "--save-stats", tmp["2.st"], "--json", .. Calib(b)]));
        Assert.Equal(0, JobSupport.Cli(["score", m1, "--criteria", "min-euf", "--out", tmp["3.json"], "--save-stats", tmp["3.st"], "--json", .. Calib(b)]));
        string f1 = CheckpointFingerprint.Compute(m1), f2 = CheckpointFingerprint.Compute(m2);
        output.WriteLine($"fingerprints {f1[..12]} {f2[..12]}");
        Assert.NotEqual(f1, f2);

        var cases = new (string[] Files, string Model, string Expected)[]
        {
            ([tmp["1.st"], tmp["2.st"]], m1, $"{tmp["2.st"]}: statistics of checkpoint {f2[..12]}…, but {tmp["1.st"]} has checkpoint {f1[..12]}…"),
            ([tmp["1.st"], tmp["3.st"]], m1, $"{tmp["3.st"]}: statistics collected for euf, but {tmp["1.st"]} for ean"),
            ([tmp["2.st"]], m1, $"{tmp["2.st"]}: statistics of checkpoint {f2[..12]}…, but {m1} is checkpoint {f1[..12]}…"),
        };
        foreach (var (files, model, expected) in cases)
        {
            var (code, _, stderr) = JobSupport.CliOutput(["score", model, "--criteria", "min-ean", "--merge-stats", .. files, "--out", tmp["x.json"]]);
            output.WriteLine(stderr.Trim());
            Assert.Equal(1, code);
            Assert.StartsWith($"error: {expected}", Assert.Single(JobSupport.Lines(stderr)));
            Assert.False(File.Exists(tmp["x.json"]));
        }
    }

    [Fact]
    public void AnOlderStatisticsFormatGetsAHint()
    {
        using var tmp = new TempDir();
        var meta = new JsonObject { ["version"] = 1, ["criteria"] = new JsonArray(), ["sets"] = new JsonArray() };
        SafetensorsWriter.Write(tmp["old.st"], [], new Dictionary<string, string> { [CriteriaStatsFile.MetaKey] = meta.ToJsonString() });
        var ex = Assert.Throws<MoePruneException>(() => CriteriaStatsFile.Load(tmp["old.st"]));
        output.WriteLine(ex.Message);
        Assert.Equal($"{tmp["old.st"]}: criteria statistics format version 1, this MoePrune reads version 2; re-run score --save-stats to collect them again", ex.Message);
        SafetensorsWriter.Write(tmp["plain.st"], []);
        Assert.Contains("not a MoePrune criteria statistics file", Assert.Throws<MoePruneException>(() => CriteriaStatsFile.Load(tmp["plain.st"])).Message);
    }

    [Fact]
    public void ScoresOfACheckpointWithOtherValuesAreRefused()
    {
        using var tmp = new TempDir();
        var original = JobSupport.WriteModel(tmp["m"], seed: 5);
        Assert.Equal(0, JobSupport.Cli("score", original, "--criteria", "max-rwn", "--out", tmp["s.json"], "--json"));
        // a copy with one tensor value changed: same config, names, shapes and byte layout
        Directory.CreateDirectory(tmp["copy"]);
        foreach (var f in Directory.EnumerateFiles(original)) File.Copy(f, Path.Combine(tmp["copy"], Path.GetFileName(f)));
        string shard = Path.Combine(tmp["copy"], "model.safetensors");
        using (var file = SafetensorsFile.Open(shard))
        {
            var entry = file.Entry("model.layers.0.mlp.gate.weight");
            long at = 8 + BitConverter.ToInt64(File.ReadAllBytes(shard), 0) + entry.Begin;
            using var fs = new FileStream(shard, FileMode.Open, FileAccess.ReadWrite);
            fs.Seek(at, SeekOrigin.Begin);
            int b = fs.ReadByte();
            fs.Seek(at, SeekOrigin.Begin);
            fs.WriteByte((byte)(b ^ 0x40));
        }
        string fo = CheckpointFingerprint.Compute(original), fc = CheckpointFingerprint.Compute(tmp["copy"]);
        Assert.NotEqual(fo, fc);
        var (code, _, stderr) = JobSupport.CliOutput("prune", tmp["copy"], "--criterion", "max-rwn", "--drop", "1", "--scores", tmp["s.json"], "--out", tmp["p"]);
        output.WriteLine(stderr);
        Assert.Equal(1, code);
        Assert.Equal($"error: {tmp["s.json"]}: scores were computed on checkpoint {fo[..12]}…, but {tmp["copy"]} is checkpoint {fc[..12]}…",
                     Assert.Single(JobSupport.Lines(stderr)));
        Assert.False(Directory.Exists(tmp["p"]));
    }
}
