using MoePrune.Observation;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// The statistics of one MoE layer: a keyed set of <see cref="ILayerStatistic"/>s, always including the
/// <see cref="RoutingCounts"/>. Every part is a sum (or a capped sample) that merges by addition, so every score
/// is exactly computable after any number of batches and merges.
/// </summary>
public sealed class LayerStats
{
    private readonly SortedDictionary<string, ILayerStatistic> _parts = new(StringComparer.Ordinal);

    public int LayerIndex { get; }
    public int NumExperts { get; }
    public int TopK { get; }

    public LayerStats(int layerIndex, int numExperts, int topK)
    {
        if (numExperts < 1 || topK < 1 || topK > numExperts)
            throw new MoePruneException($"layer {layerIndex}: invalid expert count {numExperts} / top-k {topK}");
        LayerIndex = layerIndex;
        NumExperts = numExperts;
        TopK = topK;
        _parts[RoutingCounts.Kind.Key] = new RoutingCounts(layerIndex, numExperts);
    }

    /// <summary>The statistics held, by key (ordinal order).</summary>
    public IReadOnlyDictionary<string, ILayerStatistic> Parts => _parts;

    public RoutingCounts Routing => (RoutingCounts)_parts[RoutingCounts.Kind.Key];

    /// <summary>Non-padded tokens routed through this layer.</summary>
    public long Tokens => Routing.Tokens;

    public bool Has(StatisticKind kind) => _parts.ContainsKey(kind.Key);

    /// <summary>The statistic of <paramref name="kind"/>, or null when it is not collected.</summary>
    public T? Find<T>(StatisticKind kind) where T : class, ILayerStatistic =>
        _parts.TryGetValue(kind.Key, out var s) ? (T)s : null;

    /// <summary>The statistic of <paramref name="kind"/>; a one-line error naming <paramref name="criterion"/> when missing.</summary>
    public T Require<T>(StatisticKind kind, string criterion) where T : class, ILayerStatistic =>
        Find<T>(kind) ?? throw new MoePruneException(
            $"criterion {criterion}: layer {LayerIndex} statistics have no {kind.Description}; collect with this criterion requested");

    /// <summary>Adds an empty statistic of <paramref name="kind"/> (no-op when present) and returns the one held.</summary>
    public ILayerStatistic Enable(StatisticKind kind, StatisticContext context)
    {
        if (!_parts.TryGetValue(kind.Key, out var s))
            _parts[kind.Key] = s = kind.Create(context);
        return s;
    }

    /// <summary>Puts a statistic read from a file (replaces one of the same key).</summary>
    public void Set(ILayerStatistic statistic) => _parts[statistic.Kind.Key] = statistic;

    /// <summary>Drops a statistic once read (a layer-by-layer merge frees each layer's input sample after merging the layer); false when absent.</summary>
    public bool Remove(StatisticKind kind) => kind != RoutingCounts.Kind && _parts.Remove(kind.Key);

    /// <summary>Adds one routing event of this layer to every part.</summary>
    public void Add(RoutingEvent e)
    {
        CheckShape(e);
        foreach (var part in _parts.Values) part.Add(e);
    }

    /// <summary>Checks that an event comes from a layer of this shape.</summary>
    public void CheckShape(RoutingEvent e)
    {
        if (e.NumExperts != NumExperts || e.TopK != TopK)
            throw new MoePruneException($"layer {e.LayerIndex}: routing event has {e.NumExperts} experts/top-{e.TopK}, statistics have {NumExperts}/top-{TopK}");
    }

    /// <summary>A fresh, empty LayerStats with the same parts (only the per-source ones when <paramref name="perSourceOnly"/>).</summary>
    public LayerStats EmptyLike(bool perSourceOnly = false)
    {
        var s = new LayerStats(LayerIndex, NumExperts, TopK);
        foreach (var part in _parts.Values)
            if (!perSourceOnly || part.Kind.PerSource) s._parts[part.Kind.Key] = part.EmptyLike();
        return s;
    }

    /// <summary>
    /// Adds <paramref name="from"/> into this: counts and sums add, bitsets OR, samples concatenate up to their
    /// capacity. Both must hold the same parts; with <paramref name="perSourceOnly"/> only the per-source parts
    /// of this are merged (the others of <paramref name="from"/> are ignored).
    /// </summary>
    public void MergeFrom(LayerStats from, bool perSourceOnly = false)
    {
        string where = $"layer {from.LayerIndex}";
        if (NumExperts != from.NumExperts || TopK != from.TopK)
            throw new MoePruneException($"{where}: cannot merge statistics of {from.NumExperts} experts/top-{from.TopK} into {NumExperts} experts/top-{TopK}");
        foreach (var key in _parts.Keys.Union(from._parts.Keys))
        {
            bool mine = _parts.TryGetValue(key, out var into), theirs = from._parts.TryGetValue(key, out var other);
            if (perSourceOnly && !(mine ? into! : other!).Kind.PerSource) continue;
            if (mine != theirs)
                throw new MoePruneException($"{where}: cannot merge statistics with {(into ?? other)!.Kind.Description} and statistics without");
            into!.MergeFrom(other!);
        }
    }
}
