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

/// <summary>Static facts about each criterion: group, default direction, statistics it reads.</summary>
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

    /// <summary>Pair criteria keep an E×E matrix and score each expert by its drop rank.</summary>
    public static bool IsPair(CriterionKind kind) => kind is CriterionKind.Ecc or CriterionKind.Ets;

    /// <summary>Needs each expert's output rows during the calibration pass.</summary>
    public static bool NeedsActivations(CriterionKind kind) =>
        Group(kind) == CriterionGroup.Activation || kind == CriterionKind.Reap;

    /// <summary>Needs the per-expert vocabulary bitsets.</summary>
    public static bool NeedsTokenSets(CriterionKind kind) => kind is CriterionKind.Evtc or CriterionKind.Ets;

    /// <summary>Short lower-case name as used on the command line ("ean", "reap").</summary>
    public static string Name(CriterionKind kind) => kind.ToString().ToLowerInvariant();
}
