using MoePrune.Merging.Merge;
using MoePrune.Merging.Partition;
using MoePrune.Merging.Similarity;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Merging;

/// <summary>What one layer's merge reads. Only what the chosen similarity and merge need must be set.</summary>
public sealed record LayerMergeInput
{
    /// <summary>Decoder-layer index (for messages and records).</summary>
    public required int LayerIndex { get; init; }
    public required MoeLayerWeights Weights { get; init; }
    public required int TopK { get; init; }
    /// <summary>(N, H) the layer's calibration inputs: cka, output-mean, router-logits, the mean-input surrogate, learned.</summary>
    public Tensor? Inputs { get; init; }
    /// <summary>(E) routed-token counts on the calibration data: frequency, max-frequency, dominant grouping.</summary>
    public IReadOnlyList<double>? RoutedCounts { get; init; }
    /// <summary>The family's routing: learned merging.</summary>
    public IRoutingStrategy? Routing { get; init; }
}

public sealed record LayerMergeOptions
{
    public SimilarityKind Similarity { get; init; } = SimilarityKind.Cka;
    public CkaOptions Cka { get; init; } = new();
    public SurrogateForm Surrogate { get; init; } = SurrogateForm.DownGateUp;
    /// <summary>Extra mixed input rows for the data-centric similarities (<see cref="EmbeddingMixup"/>); 0 = off.</summary>
    public int MixupRows { get; init; }
    public int Seed { get; init; }
    public PartitionOptions Partition { get; init; } = new();
    public MergeMethod Merge { get; init; } = MergeMethod.Uniform;
    public int LearnedSteps { get; init; } = 100;
    public double LearnedLearningRate { get; init; } = 0.05;
    public double LearnedHeldOutFraction { get; init; } = 0.25;

    public static LayerMergeOptions FromPreset(MergePreset preset) => new()
    {
        Similarity = preset.Similarity,
        Partition = new PartitionOptions { Method = preset.Partition },
        Merge = preset.Merge,
    };
}

/// <summary>One layer's outcome. <see cref="Partition"/> is null when the grouping was given. Owns the merged tensors.</summary>
public sealed record LayerMergeResult(int LayerIndex, SimilarityMatrix? Similarity, PartitionResult? Partition,
    ExpertGrouping Grouping, MergedLayer Merged) : IDisposable
{
    public void Dispose() => Merged.Dispose();
}

/// <summary>
/// One layer: similarity → grouping into r groups → merged experts and router rows. The entry point of the
/// <c>merge</c> command, which supplies the weights, the input sample, counts and routing per layer.
/// </summary>
public static class LayerMerger
{
    /// <summary>Groups into <paramref name="groups"/> (top-k ≤ r &lt; E) by similarity, then merges.</summary>
    public static LayerMergeResult Run(LayerMergeInput input, int groups, LayerMergeOptions options)
    {
        var problem = GroupValidation.GroupCount(input.LayerIndex, groups, input.Weights.NumExperts, input.TopK);
        if (problem is not null) throw new MoePruneException(problem);
        var similarity = Similarity(input, options);
        var counts = options.Partition.Method == PartitionMethod.Dominant ? Counts(input, "dominant grouping") : input.RoutedCounts;
        var partition = Partitioner.Solve(similarity, groups, options.Partition, counts);
        return new LayerMergeResult(input.LayerIndex, similarity, partition, partition.Grouping, Merge(input, partition.Grouping, options));
    }

    /// <summary>Merges an explicit grouping; the similarity is computed only when asked (for the record).</summary>
    public static LayerMergeResult Run(LayerMergeInput input, ExpertGrouping grouping, LayerMergeOptions options, bool computeSimilarity = false)
    {
        var similarity = computeSimilarity ? Similarity(input, options) : null;
        return new LayerMergeResult(input.LayerIndex, similarity, null, grouping, Merge(input, grouping, options));
    }

    public static MergedLayer Merge(LayerMergeInput input, ExpertGrouping grouping, LayerMergeOptions options)
    {
        var counts = MergeMethods.NeedsCounts(options.Merge) ? Counts(input, $"{MergeMethods.Name(options.Merge)} merging") : input.RoutedCounts;
        LearnedMergeOptions? learned = null;
        if (options.Merge == MergeMethod.Learned)
            learned = new LearnedMergeOptions
            {
                Inputs = Inputs(input, "learned merging"),
                Routing = input.Routing ?? throw new MoePruneException($"layer {input.LayerIndex}: learned merging needs the family's routing"),
                Steps = options.LearnedSteps,
                LearningRate = options.LearnedLearningRate,
                HeldOutFraction = options.LearnedHeldOutFraction,
                Seed = options.Seed,
            };
        return ExpertMerger.Merge(input.Weights, grouping, options.Merge, counts, learned);
    }

    /// <summary>The E × E similarity of <see cref="LayerMergeOptions.Similarity"/>.</summary>
    public static SimilarityMatrix Similarity(LayerMergeInput input, LayerMergeOptions options)
    {
        var layer = input.Weights;
        layer.Validate($"layer {input.LayerIndex}");
        string name = SimilarityKinds.Name(options.Similarity);
        using var scope = NewDisposeScope();
        switch (options.Similarity)
        {
            case SimilarityKind.Weights: return WeightSimilarity.FlattenedWeights(layer);
            case SimilarityKind.Router: return RouterSimilarity.RowCosine(layer.Router);
            case SimilarityKind.Surrogate when options.Surrogate == SurrogateForm.DownGateUp:
                return WeightSimilarity.Surrogate(layer, options.Surrogate);
            case SimilarityKind.Surrogate:
                var mean = Inputs(input, "the mean-input surrogate").to(ScalarType.Float64).mean([0]);     // (H)
                return WeightSimilarity.Surrogate(layer, options.Surrogate, mean);
            case SimilarityKind.RouterLogits: return RouterSimilarity.LogitCosine(Inputs(input, name), layer.Router, options.Cka.ChunkRows);
        }
        var x = Inputs(input, name);                                                                    // (N, H)
        if (options.MixupRows > 0) x = EmbeddingMixup.Augment(x, options.MixupRows, options.Seed);      // (N + extra, H)
        if (options.Similarity == SimilarityKind.OutputMean)
        {
            var means = new OutputMeanAccumulator(layer.NumExperts);
            ExpertOutputPass.Run(x, layer, [means], options.Cka.ChunkRows);
            return means.Result();
        }
        var cka = new CkaAccumulator(layer.NumExperts, options.Cka);
        ExpertOutputPass.Run(x, layer, [cka], options.Cka.ChunkRows);
        return cka.Result();
    }

    private static Tensor Inputs(LayerMergeInput input, string what) =>
        input.Inputs ?? throw new MoePruneException($"layer {input.LayerIndex}: {what} needs the layer's calibration inputs");

    private static IReadOnlyList<double> Counts(LayerMergeInput input, string what) =>
        input.RoutedCounts ?? throw new MoePruneException($"layer {input.LayerIndex}: {what} needs the layer's routed-token counts");
}
