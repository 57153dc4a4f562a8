namespace MoePrune.Merging.Merge;

/// <summary>How a group's members are combined (docs/MERGING.md §3). The same coefficients weight the experts and the router rows.</summary>
public enum MergeMethod
{
    /// <summary>α_i = 1/|G|.</summary>
    Uniform,
    /// <summary>α_i ∝ routed-token count of member i (uniform when the whole group was never routed).</summary>
    Frequency,
    /// <summary>α = 1 for the most-routed member (lower index on ties), 0 for the others: dropping them.</summary>
    MaxFrequency,
    /// <summary>α and an output scale fitted to reconstruct the layer's output on calibration inputs.</summary>
    Learned,
}

public static class MergeMethods
{
    private static readonly (MergeMethod Method, string Name)[] Names =
    [
        (MergeMethod.Uniform, "uniform"), (MergeMethod.Frequency, "frequency"),
        (MergeMethod.MaxFrequency, "max-frequency"), (MergeMethod.Learned, "learned"),
    ];

    public static string Name(MergeMethod method) => Names.First(n => n.Method == method).Name;

    public static MergeMethod Parse(string name, string source)
    {
        foreach (var (method, n) in Names)
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) return method;
        throw new MoePruneException($"{source}: unknown merge method '{name}' (expected {string.Join(", ", Names.Select(n => n.Name))})");
    }

    public static bool NeedsCounts(MergeMethod method) => method is MergeMethod.Frequency or MergeMethod.MaxFrequency;
}
