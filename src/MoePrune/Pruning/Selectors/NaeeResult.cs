using MoePrune.Criteria;

namespace MoePrune.Pruning.Selectors;

/// <summary>How NAEE searches expert subsets.</summary>
public enum NaeeMode
{
    /// <summary>Every subset of the kept size (refused above the cap).</summary>
    Exhaustive,
    /// <summary>Remove one expert at a time, each time the one whose removal raises the error least.</summary>
    Greedy,
}

/// <summary>
/// NAEE's answer for one layer: the kept subset with the smallest reconstruction error
/// Σ_x ‖F(x) − F_S(x)‖² over the layer's input sample, and every subset evaluated, by subset size.
/// </summary>
public sealed class NaeeLayerResult
{
    public required int LayerIndex { get; init; }
    public required int Keep { get; init; }
    public required NaeeMode Mode { get; init; }
    /// <summary>Input rows the errors are summed over.</summary>
    public required int InputRows { get; init; }
    public required ExpertSubset Best { get; init; }
    /// <summary>Subset size → every subset of that size evaluated, in evaluation order.</summary>
    public SortedDictionary<int, List<ExpertSubset>> Evaluated { get; } = [];

    /// <summary>The layer's entry of the scores file.</summary>
    public NaeeLayerReport ToReport() => new()
    {
        Keep = Keep, Mode = Mode.ToString().ToLowerInvariant(), InputRows = InputRows, Best = Best,
        Evaluated = new SortedDictionary<int, List<ExpertSubset>>(Evaluated),
    };
}
