using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Jobs;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Merging.Similarity;
using MoePrune.Models;
using MoePrune.Native;
using MoePrune.Tests.IO;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>The merge round as a library call: the router-logit statistic, lineage over rounds, hooks, and no leaks.</summary>
public class MergeRoundTests(ITestOutputHelper output)
{
    static CalibrationSet Tokens(TempDir tmp, int sequences = 6, int length = 12, int seed = 1) =>
        CalibrationPacker.Pack($"tokens:{JobSupport.WriteTokens(tmp["calib.txt"], 40, seed: seed)}", null, sequences, length, 0, JobSupport.Vocab);

    [Fact]
    public void RouterLogitGramOverThePassEqualsTheCosineOfLogitsRecomputedFromEveryInput()
    {
        using var tmp = new TempDir();
        using var model = TinyCheckpoint.Random(SurgerySupport.Config("olmoe"), seed: 8);
        var data = Tokens(tmp);
        long tokens = data.Sequences.Count * data.SequenceLength;
        var stats = CalibrationPass.Collect(model, data, [RouterLogitGram.Kind, LayerInputSample.Kind], inputSampleRows: (int)tokens, batchSize: 2);
        // two halves merged = one pass over both
        CalibrationSet Part(IEnumerable<CalibrationSequence> sequences) =>
            new() { Spec = data.Spec, SequenceLength = data.SequenceLength, Seed = data.Seed, Sequences = sequences.ToList(), Sources = data.Sources };
        var half = Part(data.Sequences.Take(3));
        var rest = Part(data.Sequences.Skip(3));
        var merged = CriteriaStats.Merge(CalibrationPass.Collect(model, half, [RouterLogitGram.Kind]), CalibrationPass.Collect(model, rest, [RouterLogitGram.Kind]));
        foreach (var view in model.MoeLayers)
        {
            var layer = stats.Layer(view.LayerIndex);
            var gram = layer.Find<RouterLogitGram>(RouterLogitGram.Kind)!;
            Assert.Equal(tokens, gram.Rows);
            var sample = layer.Find<LayerInputSample>(LayerInputSample.Kind)!;
            Assert.Equal(tokens, sample.Rows);
            // independent: logits of every stored input through the router, cosines of their columns in float64 here
            using var noGrad = no_grad();
            var x = sample.ToTensor(ScalarType.Float64);                                          // (N, H)
            var logits = x.matmul(view.RouterWeight.to(ScalarType.Float64).t());                 // (N, E)
            var norms = logits.pow(Scalars.Of(2)).sum(0L).sqrt();                                 // (E)
            var cos = logits.t().matmul(logits) / norms.outer(norms);                             // (E, E)
            var s = gram.Similarity();
            double max = 0, halves = 0;
            var otherGram = merged.Layer(view.LayerIndex).Find<RouterLogitGram>(RouterLogitGram.Kind)!;
            for (int i = 0; i < s.Size; i++)
                for (int j = 0; j < s.Size; j++)
                {
                    max = Math.Max(max, Math.Abs(s[i, j] - cos[i, j].item<double>()));
                    halves = Math.Max(halves, Math.Abs(gram.Gram[i * s.Size + j] - otherGram.Gram[i * s.Size + j]) / gram.Gram.Max(Math.Abs));
                }
            output.WriteLine($"layer {view.LayerIndex}: max |cos - naive| {max:E2}; halves vs whole {halves:E2} of the largest entry");
            Assert.True(max < 1e-5, $"layer {view.LayerIndex}: {max}");
            Assert.True(halves < 1e-5);                                                            // the halves run other fp32 batches
            Assert.Equal(tokens, otherGram.Rows);
        }
    }

    [Fact]
    public void TwoMergeRoundsComposeTheLineageAndTheRecordNamesOriginalExperts()
    {
        using var tmp = new TempDir();
        using var model = TinyCheckpoint.Random(SurgerySupport.Config("mixtral"), seed: 9);
        var map = MergeSupport.GroupsMap(tmp["g.json"], Enumerable.Range(0, 3).ToDictionary(l => l, _ => new[] { new[] { 0, 5 }, [1], [2, 3], [4], [6, 7] }));
        var first = new MergeSpec { GroupsMapFile = map };
        using var round1 = MergeRound.Run(new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), "unused"), first);
        Assert.Equal([0, 5], round1.LineageAfter.Originals(1, 0));
        Assert.Equal([6, 7], round1.LineageAfter.Originals(1, 4));
        using var merged = round1.TakeModel();
        Assert.All(merged.MoeLayers, v => Assert.Equal(5, v.NumExperts));

        // round 2 groups the 5 merged slots into 3 by weight similarity; the record names the originals behind each slot
        var second = new MergeSpec { Similarity = SimilarityKind.Weights, Groups = 3 };
        using var round2 = MergeRound.Run(new RoundInput(2, merged, round1.LineageAfter, "unused"), second);
        var record = round2.ToRecord();
        foreach (var view in merged.MoeLayers)
        {
            var slots = round2.Merge!.Layers[view.LayerIndex].Grouping.Groups;
            var originals = record["layers"]![view.LayerIndex.ToString()]!["groups"]!.AsArray().Select(g => g!.AsArray().Select(e => (int)e!).ToArray()).ToArray();
            for (int n = 0; n < slots.Count; n++)
            {
                var expected = slots[n].SelectMany(s => round1.LineageAfter.Originals(view.LayerIndex, s)).Order().ToArray();
                Assert.Equal(expected, originals[n]);
                Assert.Equal(expected, round2.LineageAfter.Originals(view.LayerIndex, n));
            }
            Assert.Equal(Enumerable.Range(0, 8), originals.SelectMany(g => g).Order());
        }
        var file = MergeRecord.Build("unused", model, [round1.ToRecord(), record], round2.LineageAfter);
        Assert.Equal(2, file["rounds"]!.AsArray().Count);
        Assert.Equal(3, (int)file["layers"]!["0"]!["merged_experts"]!);

        // a groups map names ORIGINAL experts: refused once a layer was merged
        var error = Assert.Throws<MoePruneException>(() => MergeRound.Run(new RoundInput(2, merged, round1.LineageAfter, "unused"), first));
        Assert.Contains("an earlier round already changed that layer's experts", error.Message);
    }

    [Fact]
    public void AFineTuneHookChangesWhatTheJobExports()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "qwen3_moe", seed: 10);
        var spec = new MergeSpec { Similarity = SimilarityKind.Router, Groups = 6 };
        MergeJob.Run(new MergeRequest { ModelDir = modelDir, OutDir = tmp["plain"], Spec = spec });
        // a stand-in for router recalibration: the hook doubles every merged router row in place
        var hooks = new RoundHooks
        {
            FineTune = round =>
            {
                using var noGrad = no_grad();
                foreach (var view in round.Model.MoeLayers) view.RouterWeight.mul_(Scalars.Of(2.0));
                return new JsonObject { ["router_scale"] = 2 };
            },
        };
        var result = MergeJob.Run(new MergeRequest { ModelDir = modelDir, OutDir = tmp["tuned"], Spec = spec }, hooks: hooks);
        Assert.Equal(2, (int)result.Record["rounds"]![0]!["finetune"]!["router_scale"]!);
        using var plain = ModelLoader.Load(tmp["plain"]);
        using var tuned = ModelLoader.Load(tmp["tuned"]);
        foreach (var (a, b) in plain.MoeLayers.Zip(tuned.MoeLayers))
        {
            Assert.True((a.RouterWeight * Scalars.Of(2.0)).eq(b.RouterWeight).all().item<bool>());
            Assert.True(a.DownProj(0).eq(b.DownProj(0)).all().item<bool>());
        }
    }

    [Fact]
    public void MergeRoundsLeakNoTensors()
    {
        using var tmp = new TempDir();
        using var model = TinyCheckpoint.Random(SurgerySupport.Config("qwen2_moe"), seed: 11);
        var data = Tokens(tmp);
        var stats = CalibrationPass.Collect(model, data, [LayerInputSample.Kind, RouterLogitGram.Kind]);
        var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), "unused") { Statistics = stats };
        MergeSpec[] specs =
        [
            new() { Similarity = SimilarityKind.Cka, Groups = 4, MixupRows = 8 },
            new() { Similarity = SimilarityKind.RouterLogits, Merge = MergeMethod.Frequency, Groups = 6 },
            new() { Preset = MergePresets.HcSmoe, Ratio = 0.5 },
            new() { Similarity = SimilarityKind.Surrogate, Merge = MergeMethod.Learned, LearnedSteps = 2, Groups = 5 },
        ];
        void RunAll(bool build)
        {
            foreach (var spec in specs)
                using (var round = MergeRound.Run(input, spec))
                    if (build) Assert.Equal(spec.GroupsFor(8), round.Model.MoeLayers[0].NumExperts);
        }
        RunAll(true);                                                                               // warm-up (lazy native state)
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        RunAll(false);
        RunAll(true);
        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        output.WriteLine($"live tensors before {before}, after {after}");
        Assert.Equal(before, after);
    }
}
