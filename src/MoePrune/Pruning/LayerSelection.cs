namespace MoePrune.Pruning;

/// <summary>One layer's selection: kept and removed original expert indices, both ascending.</summary>
public sealed record LayerSelection(int LayerIndex, int NumExperts, int[] Kept, int[] Removed)
{
    public static LayerSelection FromRemoved(int layer, int numExperts, IEnumerable<int> removed)
    {
        var gone = removed.Order().ToArray();
        var kept = Enumerable.Range(0, numExperts).Except(gone).ToArray();
        return new LayerSelection(layer, numExperts, kept, gone);
    }
}
