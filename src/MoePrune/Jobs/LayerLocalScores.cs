using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Observation;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;

namespace MoePrune.Jobs;

/// <summary>
/// The parts of a scores report that read a MoE layer's weights — the weight criteria's values and NAEE's subsets —
/// gathered one layer at a time (<see cref="Add"/>), so that a layer-by-layer run scores each layer while it is loaded;
/// the in-memory path feeds its layers the same way. The random baseline needs only the layers' shapes.
/// </summary>
public sealed class LayerLocalScores
{
    private readonly IReadOnlyList<CriterionSpec> _criteria;
    private readonly int _seed;
    private readonly NaeeMode _mode;
    private readonly Dictionary<string, CriterionScores> _values = [];
    private readonly SortedDictionary<int, NaeeLayerResult> _naee = [];
    private readonly IReadOnlyDictionary<int, int>? _keeps;
    private readonly IReadOnlyDictionary<int, HashSet<int>>? _protect;
    private long? _naeeTotal;
    private long _naeeDone;

    /// <param name="layers">Every MoE layer: experts and top-k.</param>
    /// <param name="subsets">The request NAEE searches at (half the experts, at least top-k, when null); checked here, before any work.</param>
    public LayerLocalScores(IReadOnlyList<CriterionSpec> criteria, IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers,
        SelectionRequest? subsets = null, int seed = 0, NaeeMode mode = NaeeMode.Exhaustive)
    {
        _criteria = criteria;
        _seed = seed;
        _mode = mode;
        Layers = layers;
        foreach (var spec in criteria.Where(c => c.Kind == CriterionKind.Random))
        {
            var scores = _values[spec.Name] = new CriterionScores { Spec = spec, Drops = spec.Direction };
            foreach (var (layer, (experts, topK)) in layers.OrderBy(kv => kv.Key))
                scores.Layers[layer] = new LayerScores(layer, topK, CriteriaScorer.RandomValues(seed, layer, experts));
        }
        if (criteria.Any(c => c.Needs.SelectsSubsets))
            (_keeps, _protect) = NaeeSelector.Plan(layers, subsets ?? new SelectionRequest { Keep = NaeeSelector.DefaultKeep(layers) });
    }

    public IReadOnlyDictionary<int, (int NumExperts, int TopK)> Layers { get; }

    /// <summary>True when some criterion reads the layers' weights (weight criteria, NAEE); the random baseline does not.</summary>
    public bool NeedsWeights => _criteria.Any(ReadsWeights);

    /// <summary>Scores one MoE layer (its weights; NAEE also its input sample in <paramref name="stats"/>, which must be complete).</summary>
    public void Add(IMoeLayerView view, CriteriaStats? stats)
    {
        foreach (var spec in _criteria.Where(ReadsWeights))
        {
            if (spec.Needs.SelectsSubsets)
            {
                if (stats is null) throw new MoePruneException($"criterion {spec.Name}: needs calibration statistics, none were given");
                int layer = view.LayerIndex;
                _naeeTotal ??= NaeeSelector.SubsetCount(Layers.Keys, Layers, _keeps!, _protect!, _mode, groups: view.RoutingGroups);
                _naee[layer] = NaeeSelector.SearchLayer(view, stats, _keeps![layer], _protect![layer], _mode,
                    evaluatedOne: () => Progress.StepProgress.Report("naee search", ++_naeeDone, Math.Max(_naeeTotal.Value, _naeeDone), "subsets", $"layer {layer}"));
                continue;
            }
            var one = CriteriaScorer.Score(spec, null, [view], _seed);
            if (!_values.TryGetValue(spec.Name, out var scores)) _values[spec.Name] = scores = new CriterionScores { Spec = spec, Drops = one.Drops };
            scores.Layers[view.LayerIndex] = one.Layer(view.LayerIndex);
        }
    }

    /// <summary>The values of a weight criterion or the random baseline over the layers added.</summary>
    public CriterionScores Values(CriterionSpec spec)
    {
        if (Layers.Count == 0) throw new MoePruneException($"criterion {spec.Name}: needs the model's MoE layers");
        return _values.TryGetValue(spec.Name, out var s) && s.Layers.Count == Layers.Count
            ? s : throw new InvalidOperationException($"criterion {spec.Name}: {s?.Layers.Count ?? 0} of {Layers.Count} MoE layers scored");
    }

    /// <summary>NAEE's subsets over the layers added.</summary>
    public NaeeSelection Naee => _naee.Count == Layers.Count
        ? NaeeSelector.FromResults(_naee, Layers) : throw new InvalidOperationException($"naee: {_naee.Count} of {Layers.Count} MoE layers searched");

    private static bool ReadsWeights(CriterionSpec c) => c.Needs.Weights && c.Kind != CriterionKind.Random;
}
