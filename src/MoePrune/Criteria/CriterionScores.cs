namespace MoePrune.Criteria;

/// <summary>One layer's per-expert values of a criterion (index = original expert index).</summary>
public sealed record LayerScores(int LayerIndex, int TopK, double[] Values);

/// <summary>
/// A criterion's values for every layer, and which end is dropped first: <see cref="Drops"/> equals
/// the spec's direction for scalar criteria; pair criteria (ECC, ETS) report drop ranks (0 = dropped
/// first), so they always drop the minimum whatever the spec's direction.
/// </summary>
public sealed class CriterionScores
{
    public required CriterionSpec Spec { get; init; }
    public required DropDirection Drops { get; init; }
    public SortedDictionary<int, LayerScores> Layers { get; } = [];

    public LayerScores Layer(int index) => Layers.TryGetValue(index, out var s)
        ? s
        : throw new MoePruneException($"criterion {Spec.Name}: no scores for layer {index}");

    /// <summary>
    /// The experts of a layer in drop order: ascending value for <see cref="DropDirection.Min"/>,
    /// descending for Max; equal values drop the lower expert index first.
    /// </summary>
    public int[] DropOrder(int layer)
    {
        var v = Layer(layer).Values;
        var order = Enumerable.Range(0, v.Length);
        return (Drops == DropDirection.Min
            ? order.OrderBy(e => v[e]).ThenBy(e => e)
            : order.OrderByDescending(e => v[e]).ThenBy(e => e)).ToArray();
    }
}
