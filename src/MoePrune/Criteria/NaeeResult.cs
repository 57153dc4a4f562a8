namespace MoePrune.Criteria;

/// <summary>How NAEE searches expert subsets.</summary>
public enum NaeeMode
{
    /// <summary>Every subset of the kept size (refused above the cap).</summary>
    Exhaustive,
    /// <summary>Remove one expert at a time, each time the one whose removal raises the error least.</summary>
    Greedy,
}

/// <summary>One evaluated subset of kept experts (ascending original indices) and its reconstruction error.</summary>
public sealed record NaeeSubset(
    [property: System.Text.Json.Serialization.JsonPropertyName("experts")] int[] Experts,
    [property: System.Text.Json.Serialization.JsonPropertyName("error")] double Error);

/// <summary>
/// NAEE's answer for one layer: the kept subset with the smallest reconstruction error
/// Σ_x ‖F(x) − F_S(x)‖² over the stored inputs, and every subset evaluated, by subset size.
/// </summary>
public sealed class NaeeLayerResult
{
    public required int LayerIndex { get; init; }
    public required int Keep { get; init; }
    public required NaeeMode Mode { get; init; }
    /// <summary>Stored input rows the errors are summed over.</summary>
    public required int InputRows { get; init; }
    public required NaeeSubset Best { get; init; }
    /// <summary>Subset size → every subset of that size evaluated, in evaluation order.</summary>
    public SortedDictionary<int, List<NaeeSubset>> Evaluated { get; } = [];
}
