using MoePrune.Criteria;

namespace MoePrune.Cli.Commands;

/// <summary>The complete criterion list for help texts.</summary>
public static class CriterionNames
{
    /// <summary>"ews, rwn, …, reap, naee" (every criterion and baseline).</summary>
    public static string All => string.Join(", ", Enum.GetValues<CriterionKind>().Select(CriterionInfo.Name));

    public static string Help =>
        $"{All}; each optionally prefixed min- or max- (which end is dropped first; default: the paper's direction, docs/CRITERIA.md), except naee";
}
