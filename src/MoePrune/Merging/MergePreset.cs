using MoePrune.Merging.Merge;
using MoePrune.Merging.Partition;

namespace MoePrune.Merging;

/// <summary>A named recipe: which similarity, which grouping, which merge (docs/MERGING.md §4).</summary>
public sealed record MergePreset(string Name, SimilarityKind Similarity, PartitionMethod Partition, MergeMethod Merge, string Description);

public static class MergePresets
{
    /// <summary>The paper's data-centric route: CKA of expert outputs, graph partition, uniform merge.</summary>
    public static readonly MergePreset DataCentric = new("data-centric", SimilarityKind.Cka, PartitionMethod.Auto, MergeMethod.Uniform,
        "Zhang et al. data-centric: CKA between expert outputs, partition, uniform average");

    /// <summary>The paper's model-centric route: surrogate weights by MSE, graph partition, uniform merge.</summary>
    public static readonly MergePreset ModelCentric = new("model-centric", SimilarityKind.Surrogate, PartitionMethod.Auto, MergeMethod.Uniform,
        "Zhang et al. model-centric: MSE between surrogate weights, partition, uniform average");

    /// <summary>M-SMoE without permutation alignment: router-logit cosine, most-routed experts as centres, frequency-weighted merge.</summary>
    public static readonly MergePreset MSmoe = new("m-smoe", SimilarityKind.RouterLogits, PartitionMethod.Dominant, MergeMethod.Frequency,
        "M-SMoE-style: router-logit similarity, dominant-expert grouping, frequency-weighted merge");

    /// <summary>HC-SMoE: cosine of mean expert outputs, average-linkage hierarchical clustering, frequency-weighted merge.</summary>
    public static readonly MergePreset HcSmoe = new("hc-smoe", SimilarityKind.OutputMean, PartitionMethod.Hierarchical, MergeMethod.Frequency,
        "HC-SMoE-style: expert-output similarity, average-linkage clustering, frequency-weighted merge");

    public static IReadOnlyList<MergePreset> All { get; } = [DataCentric, ModelCentric, MSmoe, HcSmoe];

    public static MergePreset Parse(string name, string source) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new MoePruneException($"{source}: unknown merge preset '{name}' (expected {string.Join(", ", All.Select(p => p.Name))})");
}
