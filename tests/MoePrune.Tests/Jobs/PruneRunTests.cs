using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>
/// Several rounds on one checkpoint: each round's cut (in original indices, through the lineage) against an
/// independent recomputation, the exported model against the original with exactly those experts masked, and a
/// run folder that resumes to the same bytes.
/// </summary>
public class PruneRunTests(ITestOutputHelper output)
{
    static RoundSpec[] DropOnePerRound(string criterion, int rounds) => Enumerable.Range(0, rounds)
        .Select(_ => new RoundSpec { Criterion = CriterionSpec.Parse(criterion), Selection = new SelectionRequest { Drop = 1 } }).ToArray();

    static int[] Ints(JsonNode? node) => node!.AsArray().Select(v => (int)v!).ToArray();

    /// <summary>Flattened [gate | up | down] of an expert, in double.</summary>
    static double[] Flat(IMoeLayerView v, int e) =>
        new[] { v.GateProj(e), v.UpProj(e), v.DownProj(e) }.SelectMany(t => t.to(ScalarType.Float64).reshape(-1).data<double>().ToArray()).ToArray();

    static double Cos(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>Iterative max-EWS written out plainly: each round removes, among the experts left, the one with the largest Σ cos to the others.</summary>
    static List<int> NaiveIterativeMaxEws(IMoeLayerView view, int rounds)
    {
        var w = Enumerable.Range(0, view.NumExperts).Select(e => Flat(view, e)).ToArray();
        var alive = Enumerable.Range(0, view.NumExperts).ToList();
        var cut = new List<int>();
        for (int r = 0; r < rounds; r++)
        {
            var best = alive.OrderByDescending(p => alive.Where(q => q != p).Sum(q => Cos(w[p], w[q]))).ThenBy(p => p).First();
            cut.Add(best);
            alive.Remove(best);
        }
        return cut;
    }

    [Fact]
    public void EachRoundCutsTheRightOriginalsAndTheExportEqualsTheMaskedOriginal()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "olmoe", seed: 21);
        var result = PruneRun.Run(new PruneRunRequest { ModelDir = modelDir, Rounds = DropOnePerRound("max-ews", 3), OutDir = tmp["out"] });
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["out"], "pruning.json")))!;
        Assert.Equal(3, record["rounds"]!.AsArray().Count);
        Assert.Equal("max-ews", (string)record["criterion"]!);

        using var original = ModelLoader.Load(modelDir);
        var removed = new Dictionary<int, IReadOnlyList<int>>();
        bool reestimationMattered = false;
        foreach (var view in original.MoeLayers)
        {
            string l = view.LayerIndex.ToString();
            var naive = NaiveIterativeMaxEws(view, 3);
            var cuts = Enumerable.Range(0, 3).Select(r => Ints(record["rounds"]![r]!["layers"]![l]!["removed"]).Single()).ToList();
            output.WriteLine($"layer {l}: rounds cut originals {string.Join(",", cuts)}; naive iterative {string.Join(",", naive)}");
            Assert.Equal(naive, cuts);
            var slots = Enumerable.Range(0, 3).Select(r => Ints(record["rounds"]![r]!["layers"]![l]!["removed_slots"]).Single()).ToList();
            reestimationMattered |= !slots.SequenceEqual(cuts);                           // later rounds name other slot numbers
            Assert.Equal(naive.Order(), Ints(record["layers"]![l]!["removed"]));
            Assert.Equal(Enumerable.Range(0, 8).Except(naive), Ints(record["layers"]![l]!["kept"]));
            removed[view.LayerIndex] = naive;
        }
        Assert.True(reestimationMattered, "slot numbers should differ from original numbers after the first round");
        Assert.Equal(removed.Keys, result.Lineage.Layers);

        double diff = SurgerySupport.ExportVsMaskedOriginal(tmp["out"], original, removed, seed: 6, JobSupport.Vocab);
        output.WriteLine($"max |exported after 3 rounds − masked original| = {diff:E2}");
        Assert.True(diff < 1e-5, $"max difference {diff}");
    }

    [Fact]
    public void RunFolderResumesToTheSameBytes()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "mixtral", seed: 4);
        var rounds = DropOnePerRound("max-ews", 3);
        PruneRun.Run(new PruneRunRequest { ModelDir = modelDir, Rounds = rounds, OutDir = tmp["a"], WorkDir = tmp["wa"] });
        Assert.All(new[] { 1, 2, 3 }, k => Assert.True(File.Exists(Path.Combine(tmp["wa"], $"round-{k}", RunFolder.RecordFile))));
        Assert.True(File.Exists(Path.Combine(tmp["wa"], "round-2", RunFolder.ScoresFile)));

        // killed during round 3: its folder has no record yet
        PruneRun.Run(new PruneRunRequest { ModelDir = modelDir, Rounds = rounds, OutDir = tmp["b"], WorkDir = tmp["wb"] });
        File.Delete(Path.Combine(tmp["wb"], "round-3", RunFolder.RecordFile));
        Directory.Delete(tmp["b"], recursive: true);
        var resumed = PruneRun.Run(new PruneRunRequest { ModelDir = modelDir, Rounds = rounds, OutDir = tmp["b"], WorkDir = tmp["wb"], Resume = true });
        Assert.Equal(3, resumed.Rounds.Count);
        AssertSameTensors(tmp["a"], tmp["b"]);

        var other = Assert.Throws<MoePruneException>(() => PruneRun.Run(new PruneRunRequest
        {
            ModelDir = modelDir, Rounds = DropOnePerRound("max-rwn", 3), OutDir = tmp["c"], WorkDir = tmp["wb"], Resume = true,
        }));
        output.WriteLine(other.Message);
        Assert.Contains("run.json: the run was started with other settings (rounds differ)", other.Message);
        Assert.False(Directory.Exists(tmp["c"]));
    }

    [Fact]
    public void FineTunedRoundsSaveTheirModelAndResumeFromIt()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "qwen2_moe", seed: 8);
        var rounds = DropOnePerRound("max-ews", 3);
        int calls = 0;
        RoundHooks Hooks(int failAtRound) => new()
        {
            FineTune = round =>
            {
                if (round.Round == failAtRound) throw new OperationCanceledException("killed");
                calls++;
                using var noGrad = no_grad();
                foreach (var view in round.Model.MoeLayers) view.DownProj(0).mul_(1.5);   // a change the next round's EWS sees
                return new JsonObject { ["scaled"] = 1.5 };
            },
        };
        PruneRun.Run(new PruneRunRequest { ModelDir = modelDir, Rounds = rounds, OutDir = tmp["a"], WorkDir = tmp["wa"] }, Hooks(0));
        Assert.Equal(3, calls);
        Assert.True(Directory.Exists(Path.Combine(tmp["wa"], "round-1", RunFolder.ModelFolder)));

        Assert.Throws<OperationCanceledException>(() =>
            PruneRun.Run(new PruneRunRequest { ModelDir = modelDir, Rounds = rounds, OutDir = tmp["b"], WorkDir = tmp["wb"] }, Hooks(2)));
        Assert.False(Directory.Exists(tmp["b"]));
        calls = 0;
        var resumed = PruneRun.Run(new PruneRunRequest { ModelDir = modelDir, Rounds = rounds, OutDir = tmp["b"], WorkDir = tmp["wb"], Resume = true }, Hooks(0));
        Assert.Equal(2, calls);                                                            // rounds 2 and 3 only
        Assert.Equal(1.5, (double)resumed.Record["rounds"]![0]!["finetune"]!["scaled"]!);
        AssertSameTensors(tmp["a"], tmp["b"]);
    }

    [Fact]
    public void ARoundLeavesNoTensorsBehind()
    {
        using var model = TinyCheckpoint.Random(SurgerySupport.Config("mixtral"), seed: 3);
        var spec = new RoundSpec { Criterion = CriterionSpec.Parse("max-rwn"), Selection = new SelectionRequest { Drop = 2 } };
        var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), "unused");
        using (PruneRound.Run(input, spec)) { }                                           // warm-up (lazy native state)
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        double? ppl = null;
        var hooks = new RoundHooks { Evaluate = r => { ppl = r.Model.MoeLayers.Sum(l => l.NumExperts); return null; } };
        using (var round = PruneRound.Run(input, spec, hooks))
            Assert.True(round.IsBuilt);
        using (var round = PruneRound.Run(input, spec))
            Assert.False(round.IsBuilt);
        Assert.Equal(3 * 6, ppl);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    static void AssertSameTensors(string a, string b)
    {
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.safetensors")), File.ReadAllBytes(Path.Combine(b, "model.safetensors")));
        Assert.Equal(File.ReadAllText(Path.Combine(a, "config.json")), File.ReadAllText(Path.Combine(b, "config.json")));
        var ra = JsonNode.Parse(File.ReadAllText(Path.Combine(a, "pruning.json")))!.AsObject();
        var rb = JsonNode.Parse(File.ReadAllText(Path.Combine(b, "pruning.json")))!.AsObject();
        Assert.True(JsonNode.DeepEquals(ra["layers"], rb["layers"]));
        Assert.Equal(ra["rounds"]!.AsArray().Count, rb["rounds"]!.AsArray().Count);
    }
}
