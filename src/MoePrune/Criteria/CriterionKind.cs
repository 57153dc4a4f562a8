using MoePrune.Criteria.Statistics;
using MoePrune.Observation;

namespace MoePrune.Criteria;

/// <summary>The 16 MC-Suite criteria (Jaiswal et al. 2025, arXiv 2504.05586) and the baselines.</summary>
public enum CriterionKind
{
    // weight-guided (data-free)
    Ews, Rwn, Wsr, Ewn,
    // inference-guided (routing decisions only)
    Euf, Ecc, Evtc, Ets,
    // activation-guided (expert outputs)
    Eas, Eae, Eao, Ean,
    // gradient-guided (accumulated expert-weight gradients)
    Egs, Ege, Ego, Egn,
    // baselines
    Random, Frequency, Reap, Naee,
}

/// <summary>Which pass a criterion needs.</summary>
public enum CriterionGroup { Weight, Inference, Activation, Gradient, Baseline }

/// <summary>Which end of a layer's score list is dropped first.</summary>
public enum DropDirection { Min, Max }

/// <summary>
/// What a criterion reads: the model's weights (through the layer views), calibration statistics of these
/// kinds, whether its values are also reported per calibration source, and whether it selects whole subsets
/// of experts (a selector, with no per-expert values and no drop direction) instead of scoring each expert.
/// </summary>
public sealed record CriterionNeeds(bool Weights, IReadOnlyList<StatisticKind> Statistics, bool PerSource, bool SelectsSubsets = false)
{
    /// <summary>A calibration pass is needed.</summary>
    public bool ReadsStatistics => Statistics.Count > 0;

    /// <summary>Expert gradients are read after a backward of the calibration loss.</summary>
    public bool Gradients => Statistics.Any(s => s.Needs.Gradients);

    /// <summary>What the routing events must carry.</summary>
    public ObserverNeeds Observer => Statistics.Aggregate(ObserverNeeds.Routing, (a, s) => a | s.Needs.Observer);
}

/// <summary>Static facts about each criterion: group, default direction, and what it needs (the one place that says so).</summary>
public static class CriterionInfo
{
    public static CriterionGroup Group(CriterionKind kind) => kind switch
    {
        CriterionKind.Ews or CriterionKind.Rwn or CriterionKind.Wsr or CriterionKind.Ewn => CriterionGroup.Weight,
        CriterionKind.Euf or CriterionKind.Ecc or CriterionKind.Evtc or CriterionKind.Ets => CriterionGroup.Inference,
        CriterionKind.Eas or CriterionKind.Eae or CriterionKind.Eao or CriterionKind.Ean => CriterionGroup.Activation,
        CriterionKind.Egs or CriterionKind.Ege or CriterionKind.Ego or CriterionKind.Egn => CriterionGroup.Gradient,
        _ => CriterionGroup.Baseline,
    };

    /// <summary>
    /// The paper's best direction where it states one (min-EAN, min-EGE, max-RWN, max-ETS, min-EVTC,
    /// max-EWS, max-EAS, max-ECC, min-EUF, min-EAE, max-WSR); our choice otherwise (see docs/CRITERIA.md).
    /// </summary>
    public static DropDirection DefaultDirection(CriterionKind kind) => kind switch
    {
        CriterionKind.Ews or CriterionKind.Rwn or CriterionKind.Wsr => DropDirection.Max,
        CriterionKind.Ecc or CriterionKind.Ets => DropDirection.Max,
        CriterionKind.Eas or CriterionKind.Egs => DropDirection.Max,
        _ => DropDirection.Min,
    };

    /// <summary>What each criterion reads; every other decision (calibration pass, observer needs, gradients,
    /// per-source values, selector or score) is derived from this table.</summary>
    public static CriterionNeeds Needs(CriterionKind kind) => kind switch
    {
        _ when Group(kind) == CriterionGroup.Weight => new(Weights: true, [], PerSource: false),
        CriterionKind.Random => new(Weights: true, [], PerSource: false),
        CriterionKind.Euf or CriterionKind.Frequency or CriterionKind.Ecc => new(Weights: false, [RoutingCounts.Kind], PerSource: true),
        CriterionKind.Evtc or CriterionKind.Ets => new(Weights: false, [RoutingCounts.Kind, TokenSets.Kind], PerSource: true),
        _ when Group(kind) == CriterionGroup.Activation || kind == CriterionKind.Reap =>
            new(Weights: false, [RoutingCounts.Kind, ActivationSums.Kind], PerSource: true),
        _ when Group(kind) == CriterionGroup.Gradient => new(Weights: false, [RoutingCounts.Kind, GradientSums.Kind], PerSource: false),
        CriterionKind.Naee => new(Weights: true, [RoutingCounts.Kind, LayerInputSample.Kind], PerSource: false, SelectsSubsets: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Every statistic some criterion reads (the kinds a statistics file may hold).</summary>
    public static IReadOnlyList<StatisticKind> AllStatistics => Enum.GetValues<CriterionKind>()
        .SelectMany(k => Needs(k).Statistics).Distinct().ToList();

    /// <summary>Pair criteria keep an E×E matrix and score each expert by its drop rank.</summary>
    public static bool IsPair(CriterionKind kind) => kind is CriterionKind.Ecc or CriterionKind.Ets;

    /// <summary>Short lower-case name as used on the command line ("ean", "reap").</summary>
    public static string Name(CriterionKind kind) => kind.ToString().ToLowerInvariant();
}
