using System.Text.Json.Nodes;
using MoePrune.Reports.Html;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using Xunit;

namespace MoePrune.Tests.Reports;

/// <summary>The report's inputs, outputs and refusals, without a browser.</summary>
[Collection(ConsoleCollection.Name)]
public class HtmlReportTests
{
    [Fact]
    public void CliWritesPageFiguresAndCopiesOfTheJsonItSummarises()
    {
        using var temp = new TempDir();
        string run = temp["run"];
        Directory.CreateDirectory(run);
        ReportTestInputs.Write(run);
        var (code, stdout, err) = InProcessCli.Run("--json", "report", run, "--out", temp["out"]);
        Assert.True(code == 0, err);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal(["pruning", "scores", "similarity"], json["inputs"]!.AsArray().Select(i => (string)i!["kind"]!).Order());
        foreach (var f in json["figures"]!.AsArray().Select(f => (string)f!))
        {
            var png = File.ReadAllBytes(Path.Combine(temp["out"], f));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png.Take(4));
            int width = (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19];
            Assert.True(width >= 600, $"{f} is {width} px wide");
        }
        // 3 criterion heatmaps, load, entropy, 2 similarity layers
        Assert.Equal(7, json["figures"]!.AsArray().Count);
        string html = File.ReadAllText(Path.Combine(temp["out"], "index.html"));
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("http", html);
        Assert.True(File.Exists(Path.Combine(temp["out"], "data", "scores.json")));
        Assert.False(File.Exists(Path.Combine(temp["out"], "data", "config.json")));
    }

    [Fact]
    public void DropOrderFollowsTheCriterionsDirection()
    {
        var min = CriterionTable.Read("min-x", JsonNode.Parse("""{"drops":"min","layers":{"0":{"values":[3,1,2]}}}""")!.AsObject());
        var max = CriterionTable.Read("max-x", JsonNode.Parse("""{"drops":"max","layers":{"0":{"values":[3,1,2]}}}""")!.AsObject());
        Assert.Equal([2, 0, 1], min.DropOrder(0));
        Assert.Equal([0, 2, 1], max.DropOrder(0));
        Assert.Equal(Math.Log2(4), LoadSection.Entropy([1, 1, 1, 1]), 12);
    }

    [Fact]
    public void NothingToReportAndNonEmptyOutputAreOneLineErrors()
    {
        using var temp = new TempDir();
        Directory.CreateDirectory(temp["empty"]);
        var (code, _, err) = InProcessCli.Run("report", temp["empty"], "--out", temp["out"]);
        Assert.Equal(1, code);
        Assert.Contains("no scores.json, pruning.json, study or similarity JSON found", err);
        Assert.False(Directory.Exists(temp["out"]));

        string run = temp["run"];
        Directory.CreateDirectory(run);
        ReportTestInputs.Write(run);
        Directory.CreateDirectory(temp["full"]);
        File.WriteAllText(Path.Combine(temp["full"], "keep.txt"), "x");
        (code, _, err) = InProcessCli.Run("report", run, "--out", temp["full"]);
        Assert.Equal(1, code);
        Assert.Contains("not empty", err);
        Assert.Single(Directory.GetFileSystemEntries(temp["full"]));
        Assert.Empty(Directory.GetDirectories(temp.Path, ".*tmp-*"));
    }
}
