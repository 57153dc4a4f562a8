namespace MoePrune.Merging.Partition;

/// <summary>
/// A layer's E experts split into r disjoint, non-empty groups that cover them all, in canonical order:
/// members ascending within a group, and groups ordered by their lowest member. Merged expert n (and router
/// row n) of the output is group n, so it is the group with the n-th smallest lowest original index.
/// </summary>
public sealed class ExpertGrouping
{
    private ExpertGrouping(int numExperts, int[][] groups)
    {
        NumExperts = numExperts;
        Groups = groups;
    }

    public int NumExperts { get; }
    /// <summary>Original expert indices per group, canonical order.</summary>
    public IReadOnlyList<int[]> Groups { get; }
    public int Count => Groups.Count;

    /// <summary>Canonicalises <paramref name="groups"/>; throws a <see cref="MoePruneException"/> listing every problem.</summary>
    public static ExpertGrouping FromGroups(int numExperts, IEnumerable<IEnumerable<int>> groups, string where = "groups")
    {
        var list = groups.Select(g => g.ToArray()).ToArray();
        var problems = GroupValidation.Structure(list, numExperts);
        if (problems.Count > 0)
            throw new MoePruneException($"{where}: {string.Join("; ", problems)}", problems);
        var canonical = list.Select(g => g.Order().ToArray()).OrderBy(g => g[0]).ToArray();
        return new ExpertGrouping(numExperts, canonical);
    }

    /// <summary>From a label per expert (any integers; equal labels = same group).</summary>
    public static ExpertGrouping FromLabels(IReadOnlyList<int> labels) =>
        FromGroups(labels.Count, Enumerable.Range(0, labels.Count).GroupBy(e => labels[e]).Select(g => g.AsEnumerable()));

    /// <summary>Every expert alone (the unchanged layer).</summary>
    public static ExpertGrouping Singletons(int numExperts) =>
        new(numExperts, Enumerable.Range(0, numExperts).Select(e => new[] { e }).ToArray());

    /// <summary>The group index (output slot) of every original expert.</summary>
    public int[] Labels()
    {
        var labels = new int[NumExperts];
        for (int g = 0; g < Groups.Count; g++)
            foreach (var e in Groups[g]) labels[e] = g;
        return labels;
    }

    public override string ToString() => string.Join(" ", Groups.Select(g => "{" + string.Join(",", g) + "}"));
}
