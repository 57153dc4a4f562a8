using MoePrune.Merging.Partition;
using MoePrune.Merging.Similarity;

namespace MoePrune.Jobs;

/// <summary>The user-facing names of the merging core's enums that have none of their own (records, options).</summary>
public static class MergeChoices
{
    private static readonly (PartitionMethod Value, string Name)[] Partitions =
        [(PartitionMethod.Auto, "auto"), (PartitionMethod.Exact, "exact"), (PartitionMethod.Hierarchical, "hierarchical"), (PartitionMethod.Dominant, "dominant")];

    private static readonly (PartitionObjectiveKind Value, string Name)[] Objectives =
        [(PartitionObjectiveKind.AverageWithin, "average-within"), (PartitionObjectiveKind.WithinMinusBetween, "within-minus-between")];

    private static readonly (SurrogateForm Value, string Name)[] Surrogates =
        [(SurrogateForm.DownGateUp, "down-gate-up"), (SurrogateForm.MeanInputJacobian, "mean-jacobian")];

    private static readonly (CkaKernel Value, string Name)[] Kernels = [(CkaKernel.Linear, "linear"), (CkaKernel.Rbf, "rbf")];

    public static string Name(PartitionMethod value) => Partitions.First(p => p.Value == value).Name;
    public static string Name(PartitionObjectiveKind value) => Objectives.First(p => p.Value == value).Name;
    public static string Name(SurrogateForm value) => Surrogates.First(p => p.Value == value).Name;
    public static string Name(CkaKernel value) => Kernels.First(p => p.Value == value).Name;

    public static PartitionMethod ParsePartition(string text, string source) => Parse(Partitions, text, source, "grouping method");
    public static PartitionObjectiveKind ParseObjective(string text, string source) => Parse(Objectives, text, source, "grouping objective");
    public static SurrogateForm ParseSurrogate(string text, string source) => Parse(Surrogates, text, source, "surrogate form");
    public static CkaKernel ParseKernel(string text, string source) => Parse(Kernels, text, source, "CKA kernel");

    private static T Parse<T>((T Value, string Name)[] table, string text, string source, string what)
    {
        foreach (var (value, name) in table)
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase)) return value;
        throw new MoePruneException($"{source}: unknown {what} '{text}' (expected {string.Join(", ", table.Select(t => t.Name))})");
    }
}
