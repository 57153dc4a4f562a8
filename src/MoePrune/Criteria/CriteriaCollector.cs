using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria;

/// <summary>
/// Streams calibration forwards into <see cref="CriteriaStats"/>. Attach it to the model as its
/// <see cref="IMoeObserver"/>; set <see cref="CurrentSource"/> before each batch to get per-source
/// statistics; after each <c>backward()</c> call <see cref="AccumulateGradients"/> (gradient criteria),
/// then zero the model's gradients. It asks the model only for what its criteria need: expert outputs
/// for the activation criteria and REAP, nothing beyond routing otherwise.
/// </summary>
public sealed class CriteriaCollector : IMoeObserver
{
    private readonly int _vocabSize;
    private readonly int _naeeTokens;
    private readonly bool _tokenSets;
    private readonly bool _activations;
    private readonly bool _naee;
    private readonly bool _gradients;

    /// <param name="criteria">The criteria to be scored later; decides what is collected.</param>
    /// <param name="vocabSize">Vocabulary size (bitset width for EVTC/ETS).</param>
    /// <param name="naeeTokens">NAEE keeps the first <paramref name="naeeTokens"/> MoE inputs of each layer.</param>
    /// <param name="calibration">Description of the calibration data, stored with the statistics.</param>
    public CriteriaCollector(IReadOnlyList<CriterionSpec> criteria, int vocabSize, int naeeTokens = 4096, string calibration = "")
    {
        if (vocabSize < 1)
            throw new MoePruneException($"criteria collector: vocabulary size {vocabSize} must be positive");
        if (naeeTokens < 1)
            throw new MoePruneException($"--naee-tokens: {naeeTokens} must be positive");
        _vocabSize = vocabSize;
        _naeeTokens = naeeTokens;
        _tokenSets = criteria.Any(c => CriterionInfo.NeedsTokenSets(c.Kind));
        _activations = criteria.Any(c => CriterionInfo.NeedsActivations(c.Kind));
        _naee = criteria.Any(c => c.Kind == CriterionKind.Naee);
        _gradients = criteria.Any(c => CriterionInfo.Group(c.Kind) == CriterionGroup.Gradient);
        Stats = new CriteriaStats { Calibration = calibration };
        Stats.Criteria.AddRange(criteria.Select(c => c.Name));
    }

    public CriteriaStats Stats { get; }

    /// <summary>Whether <see cref="AccumulateGradients"/> is needed (a gradient criterion was asked for).</summary>
    public bool WantsGradients => _gradients;

    /// <summary>Name of the calibration source of the next events; null = no per-source statistics.</summary>
    public string? CurrentSource { get; set; }

    public ObserverNeeds Needs => _activations ? ObserverNeeds.ExpertOutputs : ObserverNeeds.Routing;

    public void OnRouting(RoutingEvent e)
    {
        int hidden = (int)e.Hidden.shape[1];
        var layer = GetOrCreate(Stats.Layers, e, hidden, withNaee: true);
        if (CurrentSource is not { } source)
        {
            RoutingEventReducer.Add(layer, e);
            return;
        }
        // reduce the event once, then add the same sums to the overall and the source statistics
        if (!Stats.Sources.TryGetValue(source, out var layers))
            Stats.Sources[source] = layers = [];
        var sourceLayer = GetOrCreate(layers, e, hidden, withNaee: false);
        var delta = sourceLayer.EmptyLike(withGradientsAndNaee: false);
        RoutingEventReducer.Add(delta, e);
        LayerStatsMerger.AddInto(layer, delta, sumsOnly: true);
        LayerStatsMerger.AddInto(sourceLayer, delta, sumsOnly: true);
        RoutingEventReducer.AddNaeeRows(layer, e);
    }

    /// <summary>
    /// Adds each expert's current gradient ([∂gate | ∂up | ∂down], fp32) to the per-layer sums. An expert
    /// without a gradient (never routed in the pass) adds zeros; a layer where no expert has one is an error.
    /// </summary>
    public void AccumulateGradients(IReadOnlyList<IMoeLayerView> layers)
    {
        if (!_gradients)
            throw new MoePruneException("criteria collector: gradients accumulated, but no gradient criterion (egs, ege, ego, egn) was requested");
        foreach (var view in layers)
        {
            if (!Stats.Layers.TryGetValue(view.LayerIndex, out var s))
                Stats.Layers[view.LayerIndex] = s = new LayerStats(view.LayerIndex, view.NumExperts, view.TopK);
            s.EnableGradients(view.ExpertIntermediateSize, view.HiddenSize);
            int seen = 0;
            for (int e = 0; e < view.NumExperts; e++)
                seen += AddExpertGradient(s.GradSum![e], view, e) ? 1 : 0;
            if (seen == 0)
                throw new MoePruneException($"layer {view.LayerIndex}: no expert has a gradient; call backward() before AccumulateGradients");
            s.GradSteps++;
        }
    }

    private static bool AddExpertGradient(float[] into, IMoeLayerView view, int e)
    {
        var parts = new[] { view.GateProjGrad(e), view.UpProjGrad(e), view.DownProjGrad(e) };
        if (parts.All(p => p is null)) return false;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var flat = parts.Select(g => g is null
                ? torch.zeros((long)view.ExpertIntermediateSize * view.HiddenSize, ScalarType.Float32)                           // (I·H) missing part counts as 0
                : g.detach().to(ScalarType.Float32).reshape(-1))                            // (I·H) flattened gradient
            .ToArray();
        var all = TensorData.Floats(torch.cat(flat));                                        // (3·I·H) [∂gate | ∂up | ∂down]
        if (all.Length != into.Length)
            throw new MoePruneException($"layer {view.LayerIndex} expert {e}: gradient has {all.Length} values, expected {into.Length}");
        for (int i = 0; i < into.Length; i++) into[i] += all[i];
        return true;
    }

    private LayerStats GetOrCreate(SortedDictionary<int, LayerStats> layers, RoutingEvent e, int hidden, bool withNaee)
    {
        if (!layers.TryGetValue(e.LayerIndex, out var s))
            layers[e.LayerIndex] = s = new LayerStats(e.LayerIndex, e.NumExperts, e.TopK);
        if (_tokenSets) s.EnableTokenSets(_vocabSize);
        if (_activations) s.EnableActivations(hidden);
        if (_naee && withNaee) s.EnableNaee(_naeeTokens, hidden);
        return s;
    }
}
