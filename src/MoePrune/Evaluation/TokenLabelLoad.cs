using MoePrune.Observation;

namespace MoePrune.Evaluation;

/// <summary>
/// Counts routed assignments per layer as [label, expert], with one label per routed row of the next forward
/// (<see cref="Labels"/>, −1: not counted). Use with unpadded single-sequence forwards, whose rows are the positions.
/// </summary>
public sealed class TokenLabelLoad(int labels) : IMoeObserver
{
    private readonly Dictionary<int, long[,]> _counts = [];

    public ObserverNeeds Needs => ObserverNeeds.Routing;
    public int[] Labels { get; set; } = [];
    public IReadOnlyDictionary<int, long[,]> Counts => _counts;

    public void OnRouting(RoutingEvent e)
    {
        long rows = e.TopKIndices.shape[0];
        if (rows != Labels.Length)
            throw new InvalidOperationException($"layer {e.LayerIndex}: {rows} routed rows, {Labels.Length} labels");
        var indices = e.TopKIndices.reshape(-1).data<long>().ToArray();                 // (N·k)
        if (!_counts.TryGetValue(e.LayerIndex, out var counts)) _counts[e.LayerIndex] = counts = new long[labels, e.NumExperts];
        for (int i = 0; i < indices.Length; i++)
        {
            int label = Labels[i / e.TopK];
            if (label >= 0) counts[label, indices[i]]++;
        }
    }
}
