using MoePrune.Observation;

namespace MoePrune.Evaluation;

/// <summary>
/// Counts routed assignments per layer and expert (every top-k slot counts once), optionally tagged with a
/// label per forward (e.g. the genre) for <see cref="MutualInformation"/>. Attach to
/// <c>MoeForCausalLM.Observers</c> during evaluation forwards.
/// </summary>
public sealed class ExpertLoad : IMoeObserver
{
    private readonly Dictionary<int, long[]> _counts = [];
    private readonly Dictionary<(int Layer, int Label), long[]> _labelled = [];

    public ObserverNeeds Needs => ObserverNeeds.Routing;
    /// <summary>Label of the following forwards (−1: none).</summary>
    public int CurrentLabel { get; set; } = -1;

    public void OnRouting(RoutingEvent e)
    {
        var indices = e.TopKIndices.reshape(-1).data<long>().ToArray();               // (N·k)
        if (!_counts.TryGetValue(e.LayerIndex, out var counts)) _counts[e.LayerIndex] = counts = new long[e.NumExperts];
        foreach (long i in indices) counts[i]++;
        if (CurrentLabel < 0) return;
        if (!_labelled.TryGetValue((e.LayerIndex, CurrentLabel), out var byLabel))
            _labelled[(e.LayerIndex, CurrentLabel)] = byLabel = new long[e.NumExperts];
        foreach (long i in indices) byLabel[i]++;
    }

    public IReadOnlyList<int> Layers => _counts.Keys.Order().ToList();

    /// <summary>Fraction of the layer's routed assignments that went to each expert.</summary>
    public double[] Fractions(int layer)
    {
        var c = _counts[layer];
        double total = c.Sum();
        return c.Select(x => x / total).ToArray();
    }

    /// <summary>Counts [label, expert] of one layer over the labels seen.</summary>
    public long[,] LabelCounts(int layer, int labels)
    {
        int experts = _counts[layer].Length;
        var m = new long[labels, experts];
        for (int l = 0; l < labels; l++)
            if (_labelled.TryGetValue((layer, l), out var c))
                for (int e = 0; e < experts; e++) m[l, e] = c[e];
        return m;
    }
}
