namespace MoePrune.Merging.Partition;

/// <summary>How a layer's experts are grouped (docs/MERGING.md §2).</summary>
public enum PartitionMethod
{
    /// <summary>Exact when S(E, r) is within the cap, else hierarchical.</summary>
    Auto,
    Exact,
    Hierarchical,
    /// <summary>M-SMoE: most-routed experts as group centres; needs routed-token counts.</summary>
    Dominant,
}

public sealed record PartitionOptions
{
    public PartitionMethod Method { get; init; } = PartitionMethod.Auto;
    /// <summary>The criterion of the exact search and of the reported objective value.</summary>
    public PartitionObjectiveKind Objective { get; init; } = PartitionObjectiveKind.AverageWithin;
    /// <summary>Centre the similarity for <see cref="PartitionObjectiveKind.WithinMinusBetween"/> (<see cref="PartitionObjective"/>).</summary>
    public bool Centered { get; init; } = true;
    public double ExactCap { get; init; } = ExactPartitioner.DefaultCap;
}

/// <summary>The grouping chosen, the method that actually ran and its <see cref="PartitionObjective"/> value.</summary>
public sealed record PartitionResult(ExpertGrouping Grouping, PartitionMethod Method, double Objective);

public static class Partitioner
{
    public static PartitionResult Solve(SimilarityMatrix s, int groups, PartitionOptions? options = null, IReadOnlyList<double>? routedCounts = null)
    {
        options ??= new PartitionOptions();
        var method = options.Method;
        if (method == PartitionMethod.Auto)
            method = ExactPartitioner.PartitionCount(s.Size, groups) <= options.ExactCap ? PartitionMethod.Exact : PartitionMethod.Hierarchical;
        var grouping = method switch
        {
            PartitionMethod.Exact => ExactPartitioner.Solve(s, groups, options.Objective, options.Centered, options.ExactCap),
            PartitionMethod.Hierarchical => HierarchicalPartitioner.Solve(s, groups),
            PartitionMethod.Dominant => DominantPartitioner.Solve(s, groups,
                routedCounts ?? throw new MoePruneException("dominant grouping needs the layer's routed-token counts")),
            _ => throw new ArgumentOutOfRangeException(nameof(options)),
        };
        return new PartitionResult(grouping, method, PartitionObjective.Value(s, grouping, options.Objective, options.Centered));
    }
}
