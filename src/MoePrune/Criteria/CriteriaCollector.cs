using MoePrune.Criteria.Statistics;
using MoePrune.Observation;

namespace MoePrune.Criteria;

/// <summary>
/// Streams calibration forwards into <see cref="CriteriaStats"/>. Attach it to the model as its
/// <see cref="IMoeObserver"/>; set <see cref="CurrentSource"/> before each batch to get per-source
/// statistics; after each <c>backward()</c> call <see cref="AccumulateGradients"/> (gradient criteria),
/// then zero the model's gradients. It collects the statistics its criteria read
/// (<see cref="CriterionInfo.Needs"/>) and asks the model only for what those need.
/// </summary>
public sealed class CriteriaCollector : IMoeObserver
{
    private readonly int _vocabSize;
    private readonly int _inputSampleRows;
    private readonly IReadOnlyList<StatisticKind> _kinds;

    /// <param name="criteria">The criteria to be scored later; decides what is collected.</param>
    /// <param name="vocabSize">Vocabulary size (bitset width of the token sets).</param>
    /// <param name="inputSampleRows">Rows of each layer's <see cref="LayerInputSample"/> (when a criterion reads it).</param>
    /// <param name="calibration">Description of the calibration data, stored with the statistics.</param>
    public CriteriaCollector(IReadOnlyList<CriterionSpec> criteria, int vocabSize, int inputSampleRows = LayerInputSample.DefaultRows,
        string calibration = "", string? checkpointFingerprint = null)
        : this(criteria.SelectMany(c => c.Needs.Statistics).ToList(), vocabSize, inputSampleRows, calibration, checkpointFingerprint) =>
        Stats.Criteria.AddRange(criteria.Select(c => c.Name));

    /// <summary>A collector of the given statistics (routing counts always), for a caller that is not a criterion (e.g. merging).</summary>
    public CriteriaCollector(IReadOnlyList<StatisticKind> statistics, int vocabSize, int inputSampleRows = LayerInputSample.DefaultRows,
        string calibration = "", string? checkpointFingerprint = null)
    {
        if (vocabSize < 1)
            throw new MoePruneException($"criteria collector: vocabulary size {vocabSize} must be positive");
        if (inputSampleRows < 1)
            throw new MoePruneException($"criteria collector: input sample of {inputSampleRows} rows; it must be positive");
        _vocabSize = vocabSize;
        _inputSampleRows = inputSampleRows;
        _kinds = statistics.Prepend(RoutingCounts.Kind).Distinct().ToList();
        WantsGradients = _kinds.Any(k => k.Needs.Gradients);
        Needs = _kinds.Aggregate(ObserverNeeds.Routing, (a, k) => a | k.Needs.Observer);
        Stats = new CriteriaStats { Calibration = calibration, CheckpointFingerprint = checkpointFingerprint };
    }

    public CriteriaStats Stats { get; }

    /// <summary>Whether <see cref="AccumulateGradients"/> is needed (a gradient criterion was asked for).</summary>
    public bool WantsGradients { get; }

    /// <summary>Name of the calibration source of the next events; null = no per-source statistics.</summary>
    public string? CurrentSource { get; set; }

    public ObserverNeeds Needs { get; }

    public void OnRouting(RoutingEvent e)
    {
        int hidden = (int)e.Hidden.shape[1];
        var layer = GetOrCreate(Stats.Layers, e.LayerIndex, e.NumExperts, e.TopK, hidden, perSourceOnly: false);
        if (CurrentSource is not { } source)
        {
            layer.Add(e);
            return;
        }
        // reduce the event once into the per-source parts, then add the same sums to the overall and the source statistics
        if (!Stats.Sources.TryGetValue(source, out var layers))
            Stats.Sources[source] = layers = [];
        var sourceLayer = GetOrCreate(layers, e.LayerIndex, e.NumExperts, e.TopK, hidden, perSourceOnly: true);
        layer.CheckShape(e);
        var delta = sourceLayer.EmptyLike(perSourceOnly: true);
        delta.Add(e);
        layer.MergeFrom(delta, perSourceOnly: true);
        sourceLayer.MergeFrom(delta, perSourceOnly: true);
        foreach (var part in layer.Parts.Values.Where(p => !p.Kind.PerSource)) part.Add(e);
    }

    /// <summary>
    /// Adds each expert's current gradient ([∂gate | ∂up | ∂down], fp32) to the per-layer sums. An expert
    /// without a gradient (never routed in the pass) adds zeros; a layer where no expert has one is an error.
    /// </summary>
    public void AccumulateGradients(IReadOnlyList<IMoeLayerView> layers)
    {
        if (!WantsGradients)
            throw new MoePruneException("criteria collector: gradients accumulated, but no gradient criterion (egs, ege, ego, egn) was requested");
        foreach (var view in layers)
        {
            var s = GetOrCreate(Stats.Layers, view.LayerIndex, view.NumExperts, view.TopK, view.HiddenSize, perSourceOnly: false);
            foreach (var part in s.Parts.Values.OfType<IGradientStatistic>())
                if (!part.AddGradients(view))
                    throw new MoePruneException($"layer {view.LayerIndex}: no expert has a gradient; call backward() before AccumulateGradients");
        }
    }

    private LayerStats GetOrCreate(SortedDictionary<int, LayerStats> layers, int index, int experts, int topK, int hidden, bool perSourceOnly)
    {
        if (!layers.TryGetValue(index, out var s))
        {
            layers[index] = s = new LayerStats(index, experts, topK);
            var context = new StatisticContext(index, experts, topK, hidden, _vocabSize, _inputSampleRows);
            foreach (var kind in _kinds.Where(k => !perSourceOnly || k.PerSource)) s.Enable(kind, context);
        }
        return s;
    }
}
