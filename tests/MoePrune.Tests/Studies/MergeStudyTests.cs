using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Jobs;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Models;
using MoePrune.Reports;
using MoePrune.Studies;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Studies;

public class MergeStudyTests(ITestOutputHelper output)
{
    [Fact]
    public void MeasurementsEqualMergeThenPerplexityAndARerunSkipsThem()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], "mixtral", seed: 30);
        var calib = JobSupport.WriteTokens(tmp["calib.txt"], 60, seed: 1);
        var eval = JobSupport.WriteTokens(tmp["eval.txt"], 12, seed: 2);
        var request = new MergeStudyRequest
        {
            ModelDir = model, WorkDir = tmp["study"], EvalTokensFile = eval, Tasks = [],
            Calibration = $"tokens:{calib}", CalibrationSequences = 6, CalibrationLength = 16, CalibrationSeeds = [0, 1], BatchSize = 4,
            Groups = [6], Similarities = [SimilarityKind.Weights, SimilarityKind.Cka], Merges = [MergeMethod.Uniform, MergeMethod.Learned],
            Presets = ["m-smoe"], Drops = ["frequency"], LearnedSteps = 2,
        };
        var results = MergeStudy.Run(request, output.WriteLine);
        string raw = Path.Combine(request.WorkDir, MergeStudy.MeasurementsFile);
        // parent + weights·uniform once (data-free) + 2 seeds × (cka·uniform, weights·learned, cka·learned, m-smoe, frequency)
        Assert.Equal(1 + 1 + 2 * 5, File.ReadAllLines(raw).Length);
        var rows = results["rows"]!.AsArray().Select(r => r!.AsObject()).ToList();
        Assert.Equal(6, rows.Count);
        Assert.True((bool)rows.Single(r => (string)r["variant"]! == "weights · uniform")["data_free"]!);

        // independent path: the same merge through MergeJob (its own calibration pass), reloaded, plain perplexity
        var sequences = Perplexity.ReadTokenFile(eval);
        foreach (var (variant, seed, spec) in new[]
        {
            ("cka · uniform", 1, new MergeSpec { Similarity = SimilarityKind.Cka, Groups = 6 }),
            ("m-smoe", 0, new MergeSpec { Preset = MergePresets.MSmoe, Groups = 6 }),
        })
        {
            string outDir = tmp[$"x-{seed}-{variant.Replace(' ', '_')}"];
            var calibration = new CalibrationSettings { Spec = $"tokens:{calib}", Sequences = 6, Length = 16, Seed = seed, BatchSize = 4 };
            MergeJob.Run(new MergeRequest { ModelDir = model, OutDir = outDir, Spec = spec with { Calibration = calibration } });
            using var merged = ModelLoader.Load(outDir);
            double expected = Perplexity.Evaluate(merged, sequences, 4).Perplexity;
            var measured = File.ReadAllLines(raw).Select(l => JsonNode.Parse(l)!).Single(m => (string)m["key"]! == $"{variant}|6|{seed}");
            double actual = (double)measured["metrics"]!["perplexity"]!;
            output.WriteLine($"{variant} seed {seed}: study {actual:F6}, merge + perplexity {expected:F6}");
            Assert.Equal(expected, actual, 1e-3 * expected);
        }

        // a rerun measures nothing new; another seed adds only its own measurements; other settings are refused
        var again = MergeStudy.Run(request);
        Assert.Equal(12, File.ReadAllLines(raw).Length);
        Assert.True(JsonNode.DeepEquals(results["rows"], again["rows"]));
        MergeStudy.Run(request with { CalibrationSeeds = [0, 1, 2] });
        Assert.Equal(12 + 5, File.ReadAllLines(raw).Length);
        var error = Assert.Throws<MoePruneException>(() => MergeStudy.Run(request with { LearnedSteps = 3 }));
        Assert.Contains("learned_steps differ", error.Message);

        // report only: nothing measured, the rows of what is there, progress against the plan; nothing to report in an empty folder
        var partial = MergeStudy.Run(request with { CalibrationSeeds = [0, 1, 2, 3], ReportOnly = true });
        Assert.Equal(12 + 5, File.ReadAllLines(raw).Length);
        Assert.Equal(16, (int)partial["progress"]!["measured"]!);                                     // 1 data-free + 5 × 3 seeds
        Assert.Equal(21, (int)partial["progress"]!["planned"]!);                                      // 1 data-free + 5 × 4 seeds
        Assert.Equal(3, (int)partial["rows"]!.AsArray().Single(r => (string)r!["variant"]! == "m-smoe")!["perplexity"]!["n"]!);
        Assert.Contains("| measurements | 16 of 21", MergeStudyMarkdown.Render(partial, new StudyRunInfo("", "test", "", "")));
        var copied = MergeStudy.Run(request with { ModelDir = tmp["m"] + "/", LearnedSteps = 7, ReportOnly = true });   // stored settings, not checked
        Assert.Equal(2, (int)copied["settings"]!["learned_steps"]!);
        var empty = Assert.Throws<MoePruneException>(() => MergeStudy.Run(request with { WorkDir = tmp["empty"], ReportOnly = true }));
        Assert.Contains("no merge study there", empty.Message);
        Assert.False(Directory.Exists(tmp["empty"]));

        var text = MergeStudyMarkdown.Render(again, new StudyRunInfo("./moeprune study merge …", "test", "0", "0"));
        output.WriteLine(text);
        Assert.Contains("### 6 experts per layer", text);
        Assert.Contains("Best merge:", text);
    }

    /// <summary>Within noise: |Δmean| &lt; 2·√(sd₁²/n₁ + sd²/n), against values computed by hand.</summary>
    [Fact]
    public void WithinNoiseComparesTheDifferenceWithTwiceItsStandardError()
    {
        static JsonObject Stat(double mean, double sd, int n) => new() { ["mean"] = mean, ["sd"] = sd, ["n"] = n };
        var best = Stat(100, 3, 3);                                                                  // variance of the mean 3
        Assert.True(MergeStudyMarkdown.WithinNoise(Stat(104.8, 3, 3), best));                       // 2·√6 = 4.899
        Assert.False(MergeStudyMarkdown.WithinNoise(Stat(105.0, 3, 3), best));
        Assert.True(MergeStudyMarkdown.WithinNoise(Stat(103.4, 0, 1), best));                       // data-free row: 2·√3 = 3.464
        Assert.False(MergeStudyMarkdown.WithinNoise(Stat(103.5, 0, 1), best));
        Assert.False(MergeStudyMarkdown.WithinNoise(Stat(100.1, 0, 1), Stat(100, 0, 1)));           // two data-free rows: no noise
    }
}
