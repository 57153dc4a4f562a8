using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Layerwise;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Layerwise;

/// <summary>
/// Layer by layer against in memory, for every reference fixture (Mixtral, Qwen2/3-MoE, OLMoE, DeepSeek-V2/V3, Kimi-K2,
/// GLM-4.5; fp32, bf16 and block FP8; per-expert, fused and sharded layouts; MLA, group-limited routing, MTP layers): the
/// same scores of every forward-only criterion, REAP, frequency, the weight criteria and NAEE (per source too) within
/// 1e-6 relative; byte-identical prune exports; the same perplexity.
/// </summary>
public class LayerwiseEquivalenceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() => new([.. ModelFixtures.Cases, .. Families.DeepseekFixtures.Cases]);

    static readonly LayerwiseSettings Forced = new() { Force = true };

    static CalibrationSettings Calibration(string spec) => new() { Spec = spec, Sequences = 6, Length = 20, BatchSize = 4, InputSampleRows = 64 };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScoresEqualTheInMemoryPass(string fixture)
    {
        string dir = ModelFixtures.Dir(fixture);
        using var tmp = new TempDir();
        var calibration = Calibration(LayerwiseSupport.Mix(tmp, 96));
        int experts;
        using (var checkpoint = LayerwiseCheckpoint.Open(dir)) experts = checkpoint.MoeShapes.Values.Max(v => v.NumExperts);
        ScoreRequest Request(string file, LayerwiseSettings execution) => new()
        {
            ModelDir = dir, OutFile = tmp[file], Criteria = LayerwiseSupport.ForwardCriteria, Calibration = calibration, Execution = execution,
            SubsetKeep = experts > 12 ? experts - 4 : null,                                 // NAEE's default C(16, 8) exceeds its cap
        };
        var memory = ScoreJob.Run(Request("memory.json", new LayerwiseSettings()));
        var progress = new List<LayerwiseProgress>();
        var layerwise = ScoreJob.Run(Request("layerwise.json", Forced), layerProgress: progress.Add);
        Assert.Null(memory.Layerwise);
        Assert.NotNull(layerwise.Layerwise);
        Assert.False(layerwise.Layerwise!.Spilled);
        LayerwiseSupport.AssertSameScores(ScoresReport.Load(tmp["memory.json"]), ScoresReport.Load(tmp["layerwise.json"]), output);
        Assert.Equal(memory.Stats!.Sources.Keys, layerwise.Stats!.Sources.Keys);
        Assert.Equal(2, memory.Stats.Sources.Count);

        // progress: the embedding, then every layer with each of its batches, in order
        int layers = progress[0].Layers, batches = progress[0].Batches;
        Assert.Equal(2, batches);                                                          // 3 + 3 sequences, by source
        var done = progress.Where(p => p.Stage == LayerwiseStage.Done).Select(p => p.Part == "layer" ? p.Layer : -1).ToList();
        Assert.Equal(Enumerable.Range(-1, layers + 1), done);
        Assert.Equal(batches * (layers + 1), progress.Count(p => p.Stage == LayerwiseStage.Batch));
        Assert.True(progress[^1].BytesRead > 0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PruneExportsAreByteIdentical(string fixture)
    {
        string dir = ModelFixtures.Dir(fixture);
        using var tmp = new TempDir();
        var calibration = Calibration(LayerwiseSupport.Mix(tmp, 96));
        MoeConfig config;
        using (var checkpoint = LayerwiseCheckpoint.Open(dir)) config = checkpoint.Config;
        string? keepMap = LayerwiseSupport.KeepMap(config, fixture, tmp["keep.json"]);       // group-limited routing: groups balanced
        PruneResult Prune(string outDir, string? criterion, LayerwiseSettings execution) => PruneJob.Run(new PruneRequest
        {
            ModelDir = dir, OutDir = tmp[outDir], Criterion = criterion, KeepMapFile = criterion is null ? keepMap : null,
            Selection = criterion is null ? new SelectionRequest() : new SelectionRequest { Drop = 1 },
            Calibration = calibration, Execution = execution,
            Evaluation = new PruneEvaluation { TokenFile = tmp["a.txt"], BatchSize = 4 },
        });
        foreach (var criterion in keepMap is null ? new string?[] { "min-ean", "max-rwn" } : [null])
        {
            var memory = Prune($"memory-{criterion}", criterion, new LayerwiseSettings());
            var layerwise = Prune($"layerwise-{criterion}", criterion, Forced);
            if (criterion is not null) Assert.NotNull(layerwise.Layerwise);                 // a keep-map needs no calibration pass
            int files = LayerwiseSupport.AssertSameFiles(memory.OutDir, layerwise.OutDir);
            output.WriteLine($"{criterion}: {files} files byte-identical");
            foreach (var key in new[] { "layers", "method", "criterion", "calibration", "mtp" })
                Assert.True(JsonNode.DeepEquals(memory.Record[key], layerwise.Record[key]), $"pruning.json {key} differs");
            Assert.Equal(memory.Record["input"]!.ToJsonString(), layerwise.Record["input"]!.ToJsonString());
            // the cost: the same counts; perplexity after pruning from the input model with the removed experts masked out of
            // the routing vs the built pruned model — the same in fp32, within bf16 rounding of the routing weights in bf16
            double tolerance = memory.Record["cost"]!["dtype"]!.GetValue<string>() == "float32" ? 1e-5 : 1e-2;
            var (mc, lc) = (memory.Record["cost"]!.AsObject(), layerwise.Record["cost"]!.AsObject());
            foreach (var key in new[] { "dtype", "parameters", "active_parameters", "parameter_bytes", "experts_per_layer" })
                Assert.True(JsonNode.DeepEquals(mc[key], lc[key]), $"cost {key}: {mc[key]} vs {lc[key]}");
            foreach (var key in new[] { "before", "after" })
            {
                double d = LayerwiseSupport.Rel((double)mc["perplexity"]![key]!, (double)lc["perplexity"]![key]!);
                output.WriteLine($"{criterion}: perplexity {key} {mc["perplexity"]![key]} / {lc["perplexity"]![key]}, relative difference {d:E2}");
                Assert.True(d <= (key == "before" ? 1e-6 : tolerance), $"perplexity {key}: relative difference {d:E2}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PerplexityEqualsTheInMemoryEvaluation(string fixture)
    {
        string dir = ModelFixtures.Dir(fixture);
        var rng = new Random(5);
        List<int[]> Group(int n) => Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, rng.Next(1, 30)).Select(_ => rng.Next(96)).ToArray()).ToList();
        var groups = new[] { Group(7), Group(4) };                                         // padded batches of 3, one too short to predict
        using var model = ModelLoader.Load(dir);
        var expected = groups.Select(g => Perplexity.Evaluate(model, g, batchSize: 3)).ToList();
        using var checkpoint = LayerwiseCheckpoint.Open(dir);
        var (actual, hidden, spilled) = LayerwisePerplexity.Evaluate(checkpoint, groups, batchSize: 3);
        Assert.False(spilled);
        Assert.True(hidden > 0);
        for (int g = 0; g < groups.Length; g++)
        {
            Assert.Equal(expected[g].Tokens, actual[g].Tokens);
            double d = LayerwiseSupport.Rel(expected[g].MeanNll, actual[g].MeanNll);
            output.WriteLine($"group {g}: NLL {expected[g].MeanNll:F6} / {actual[g].MeanNll:F6}, relative difference {d:E2}");
            Assert.True(d <= 1e-6);
        }
        Assert.Equal(model.Fingerprint, checkpoint.Fingerprint());                          // hashed while reading, the rest at the end
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        LayerwisePerplexity.Evaluate(checkpoint, groups, batchSize: 3);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);     // no tensor left behind
    }
}
