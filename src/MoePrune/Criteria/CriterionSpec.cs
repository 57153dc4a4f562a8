namespace MoePrune.Criteria;

/// <summary>
/// A criterion and the direction it drops in: parsed from "min-ean", "max-rwn", "ean" (default direction),
/// "random", "frequency", "reap", "naee". The canonical name is "min-…" or "max-…", except for a subset
/// selector (naee), which has no direction.
/// </summary>
public sealed record CriterionSpec(CriterionKind Kind, DropDirection Direction)
{
    /// <summary>What the criterion reads (<see cref="CriterionInfo.Needs"/>).</summary>
    public CriterionNeeds Needs => CriterionInfo.Needs(Kind);

    public string Name => Needs.SelectsSubsets
        ? CriterionInfo.Name(Kind)
        : $"{(Direction == DropDirection.Min ? "min" : "max")}-{CriterionInfo.Name(Kind)}";

    public override string ToString() => Name;

    public static CriterionSpec Default(CriterionKind kind) => new(kind, CriterionInfo.DefaultDirection(kind));

    /// <summary>Parses one criterion name; <paramref name="option"/> names the setting in the error message.</summary>
    public static CriterionSpec Parse(string text, string option = "criterion")
    {
        var s = text.Trim().ToLowerInvariant();
        DropDirection? direction = null;
        if (s.StartsWith("min-", StringComparison.Ordinal)) { direction = DropDirection.Min; s = s[4..]; }
        else if (s.StartsWith("max-", StringComparison.Ordinal)) { direction = DropDirection.Max; s = s[4..]; }
        if (s.Length == 0 || !Enum.TryParse<CriterionKind>(s, ignoreCase: true, out var kind) || !s.All(char.IsLetter))
        {
            var known = string.Join(", ", Enum.GetValues<CriterionKind>().Select(CriterionInfo.Name));
            throw new MoePruneException($"{option}: unknown criterion '{text}' (known: {known}, optionally prefixed min- or max-)");
        }
        if (CriterionInfo.Needs(kind).SelectsSubsets && direction is not null)
            throw new MoePruneException($"{option}: '{text}': {CriterionInfo.Name(kind)} selects subsets of experts and takes no min-/max- prefix");
        return new CriterionSpec(kind, direction ?? CriterionInfo.DefaultDirection(kind));
    }

    /// <summary>All criteria and baselines with their default directions, except the subset selectors (naee: no per-expert score).</summary>
    public static IReadOnlyList<CriterionSpec> AllScores => Enum.GetValues<CriterionKind>()
        .Where(k => !CriterionInfo.Needs(k).SelectsSubsets).Select(Default).ToList();

    /// <summary>Parses a criteria list: comma-separated names, where "all" stands for <see cref="AllScores"/> (so "all,naee" adds NAEE).</summary>
    public static IReadOnlyList<CriterionSpec> ParseCriteria(string text, string option = "criteria")
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!items.Any(i => i.Equals("all", StringComparison.OrdinalIgnoreCase))) return ParseList(text, option);
        var rest = items.Where(i => !i.Equals("all", StringComparison.OrdinalIgnoreCase)).ToList();
        var extra = rest.Count == 0 ? [] : ParseList(string.Join(",", rest), option);
        var dup = extra.FirstOrDefault(e => AllScores.Any(a => a.Kind == e.Kind));
        if (dup is not null) throw new MoePruneException($"{option}: '{dup.Name}' is already in all");
        return [.. AllScores, .. extra];
    }

    /// <summary>Parses a comma-separated list ("min-ean,max-rwn"), rejecting duplicates.</summary>
    public static IReadOnlyList<CriterionSpec> ParseList(string text, string option = "criteria")
    {
        var specs = text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => Parse(t, option)).ToList();
        if (specs.Count == 0)
            throw new MoePruneException($"{option}: no criterion given");
        var dup = specs.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new MoePruneException($"{option}: criterion '{dup.Key}' given twice");
        return specs;
    }
}
