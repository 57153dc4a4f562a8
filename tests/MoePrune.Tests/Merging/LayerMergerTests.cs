using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Merging.Partition;
using MoePrune.Merging.Similarity;
using MoePrune.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static MoePrune.Tests.Merging.MergingFixtures;

namespace MoePrune.Tests.Merging;

public class LayerMergerTests(ITestOutputHelper output)
{
    private const string PlantedPairs = "{0,5} {1,3} {2,7} {4,6}";
    private static readonly int[] PairOf = [0, 1, 2, 1, 3, 0, 3, 2];

    /// <summary>8 experts in 4 planted pairs: each member is its pair's base expert (and router row) plus 3% noise.</summary>
    private static LayerMergeInput Planted(int seed = 31)
    {
        var rng = new Random(seed);
        var bases = Enumerable.Range(0, 4).Select(_ => RandomExpert(rng, 8, 12)).ToArray();
        var rows = Random(rng, [4, 8]);
        ExpertWeights Noisy(ExpertWeights b) => new(b.GateProj + Random(rng, [12, 8], 0.015), b.UpProj + Random(rng, [12, 8], 0.015), b.DownProj + Random(rng, [8, 12], 0.015));
        var experts = PairOf.Select(p => Noisy(bases[p])).ToArray();
        var router = stack(PairOf.Select(p => rows[p] + Random(rng, [8], 0.03)).ToArray());
        return new LayerMergeInput
        {
            LayerIndex = 3,
            Weights = new MoeLayerWeights(router, experts),
            TopK = 2,
            Inputs = Random(rng, [64, 8]),
            RoutedCounts = [50, 40, 30, 1, 20, 2, 3, 4],                  // one member of each pair dominates
            Routing = new SoftmaxTopKRouting(2, renormalize: true),
        };
    }

    public static TheoryData<SimilarityKind, SurrogateForm, CkaKernel> Kinds => new()
    {
        { SimilarityKind.Cka, SurrogateForm.DownGateUp, CkaKernel.Linear },
        { SimilarityKind.Cka, SurrogateForm.DownGateUp, CkaKernel.Rbf },
        { SimilarityKind.Weights, SurrogateForm.DownGateUp, CkaKernel.Linear },
        { SimilarityKind.Surrogate, SurrogateForm.DownGateUp, CkaKernel.Linear },
        { SimilarityKind.Surrogate, SurrogateForm.MeanInputJacobian, CkaKernel.Linear },
        { SimilarityKind.Router, SurrogateForm.DownGateUp, CkaKernel.Linear },
        { SimilarityKind.RouterLogits, SurrogateForm.DownGateUp, CkaKernel.Linear },
        { SimilarityKind.OutputMean, SurrogateForm.DownGateUp, CkaKernel.Linear },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EverySimilarityFindsThePlantedPairs(SimilarityKind kind, SurrogateForm surrogate, CkaKernel kernel)
    {
        var input = Planted();
        var options = new LayerMergeOptions { Similarity = kind, Surrogate = surrogate, Cka = new CkaOptions { Kernel = kernel, ChunkRows = 32 }, MixupRows = kind == SimilarityKind.Cka ? 16 : 0 };
        using var result = LayerMerger.Run(input, 4, options);
        output.WriteLine($"{kind}/{surrogate}/{kernel}: {result.Grouping} by {result.Partition!.Method}, J = {result.Partition.Objective:F4}; S(0,5) = {result.Similarity![0, 5]:F4}, S(0,1) = {result.Similarity[0, 1]:F4}");
        Assert.Equal(PlantedPairs, result.Grouping.ToString());
        Assert.Equal(PartitionMethod.Exact, result.Partition.Method);
        Assert.Equal(4, result.Merged.Count);
    }

    [Fact]
    public void PresetsFindThePlantedPairsAndMergeByFrequency()
    {
        var input = Planted();
        foreach (var preset in MergePresets.All)
        {
            using var result = LayerMerger.Run(input, 4, LayerMergeOptions.FromPreset(preset));
            output.WriteLine($"{preset.Name}: {result.Grouping} by {result.Partition!.Method}, {MergeMethods.Name(result.Merged.Method)}; slot 0 α = [{string.Join(", ", result.Merged.Experts[0].Coefficients.Select(a => a.ToString("F3")))}]");
            Assert.Equal(PlantedPairs, result.Grouping.ToString());
            Assert.Equal(preset.Merge, result.Merged.Method);
        }
        Assert.Same(MergePresets.HcSmoe, MergePresets.Parse("HC-SMoE", "--preset"));
        var e = Assert.Throws<MoePruneException>(() => MergePresets.Parse("zipit", "--preset"));
        Assert.Equal("--preset: unknown merge preset 'zipit' (expected data-centric, model-centric, m-smoe, hc-smoe)", e.Message);
        Assert.Equal(SimilarityKind.RouterLogits, SimilarityKinds.Parse("router-logits", "--similarity"));
        Assert.Equal(MergeMethod.MaxFrequency, MergeMethods.Parse("max-frequency", "--merge"));
    }

    [Fact]
    public void AGivenGroupingOfSingletonsLeavesTheLayerUnchanged()
    {
        var input = Planted();
        using var result = LayerMerger.Run(input, ExpertGrouping.Singletons(8), new LayerMergeOptions { Merge = MergeMethod.Frequency });
        using var router = result.Merged.RouterWeight();
        double max = MaxAbsDiff(Values(router), Values(input.Weights.Router));
        for (int e = 0; e < 8; e++)
            max = Math.Max(max, MaxAbsDiff(Values(result.Merged.Experts[e].Weights.DownProj), Values(input.Weights.Experts[e].DownProj)));
        Assert.Null(result.Similarity);
        Assert.Equal(0, max);
    }

    [Fact]
    public void BadRequestsGiveOneClearLine()
    {
        var input = Planted();
        string Message(Action a) { var e = Assert.Throws<MoePruneException>(a); output.WriteLine(e.Message); return e.Message; }
        Assert.Equal("layer 3: 1 merged experts are fewer than top-k = 2 (every token needs 2 distinct experts)",
            Message(() => LayerMerger.Run(input, 1, new LayerMergeOptions())));
        Assert.Equal("layer 3: 8 merged experts do not reduce its 8 experts (need fewer than 8)",
            Message(() => LayerMerger.Run(input, 8, new LayerMergeOptions())));
        Assert.Equal("layer 3: cka needs the layer's calibration inputs",
            Message(() => LayerMerger.Run(input with { Inputs = null }, 4, new LayerMergeOptions())));
        Assert.Equal("layer 3: frequency merging needs the layer's routed-token counts",
            Message(() => LayerMerger.Run(input with { RoutedCounts = null }, 4, new LayerMergeOptions { Similarity = SimilarityKind.Weights, Merge = MergeMethod.Frequency })));
        Assert.Equal("layer 3: learned merging needs the family's routing",
            Message(() => LayerMerger.Run(input with { Routing = null }, 4, new LayerMergeOptions { Similarity = SimilarityKind.Weights, Merge = MergeMethod.Learned })));
    }

    [Fact]
    public void SimilarityGroupingAndMergingLeakNoTensors()
    {
        var input = Planted();
        LayerMergeOptions[] runs =
        [
            new() { Similarity = SimilarityKind.Cka, MixupRows = 8, Cka = new CkaOptions { Kernel = CkaKernel.Rbf, ChunkRows = 20 } },
            new() { Similarity = SimilarityKind.Cka, Cka = new CkaOptions { Estimator = HsicEstimator.Biased } },
            new() { Similarity = SimilarityKind.Weights, Merge = MergeMethod.Frequency },
            new() { Similarity = SimilarityKind.Surrogate, Surrogate = SurrogateForm.MeanInputJacobian, Merge = MergeMethod.MaxFrequency },
            new() { Similarity = SimilarityKind.RouterLogits, Merge = MergeMethod.Learned, LearnedSteps = 3 },
            LayerMergeOptions.FromPreset(MergePresets.HcSmoe),
            LayerMergeOptions.FromPreset(MergePresets.MSmoe),
        ];
        void RunAll() { foreach (var o in runs) LayerMerger.Run(input, 4, o).Dispose(); }
        RunAll();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        RunAll();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        output.WriteLine($"live tensors before {before}, after {after}");
        Assert.Equal(before, after);
    }
}
