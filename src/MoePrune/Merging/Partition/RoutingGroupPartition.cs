namespace MoePrune.Merging.Partition;

/// <summary>
/// Grouping under group-limited routing (DeepSeek-V2 <c>group_limited_greedy</c>, DeepSeek-V3 / Kimi-K2 / GLM-4.5 with
/// <c>n_group</c> &gt; 1): routing scores n_group routing groups of E/n_group consecutive experts, so merge groups must
/// never cross a routing group and every routing group must end with the same number r/n_group of merged experts.
/// <see cref="Solve"/> runs the partition on each routing group's sub-similarity; since routing groups are ranges of
/// consecutive experts, the canonical order (groups by lowest member) puts routing group g's merged experts in slots
/// [g·r/n_group, (g+1)·r/n_group), which is what the merged model's routing reads as its group g.
/// </summary>
public static class RoutingGroupPartition
{
    /// <summary>
    /// The partition of each routing group's experts into <paramref name="groups"/>/<paramref name="nGroup"/> groups by
    /// <see cref="Partitioner.Solve"/> on its sub-similarity (and its slice of <paramref name="routedCounts"/>); the
    /// method reported is the one that ran on the first routing group, the objective is the whole layer's.
    /// </summary>
    public static PartitionResult Solve(SimilarityMatrix s, int groups, int nGroup, PartitionOptions? options = null, IReadOnlyList<double>? routedCounts = null)
    {
        options ??= new PartitionOptions();
        if (nGroup < 1 || s.Size % nGroup != 0 || groups % nGroup != 0)
            throw new ArgumentException($"{s.Size} experts into {groups} groups cannot be split equally over {nGroup} routing groups");
        int size = s.Size / nGroup, perGroup = groups / nGroup;
        var all = new List<int[]>();
        PartitionMethod? method = null;
        for (int g = 0; g < nGroup; g++)
        {
            int start = g * size;
            var sub = Sub(s, start, size);
            var counts = routedCounts?.Skip(start).Take(size).ToArray();
            var result = Partitioner.Solve(sub, perGroup, options, counts);
            method ??= result.Method;
            all.AddRange(result.Grouping.Groups.Select(members => members.Select(e => e + start).ToArray()));
        }
        var grouping = ExpertGrouping.FromGroups(s.Size, all);
        return new PartitionResult(grouping, method!.Value, PartitionObjective.Value(s, grouping, options.Objective, options.Centered));
    }

    /// <summary>
    /// Why <paramref name="grouping"/> breaks the routing groups of <paramref name="nGroup"/>, or null: a merge group that
    /// holds experts of two routing groups, or routing groups left with different numbers of merged experts.
    /// </summary>
    public static string? Problem(ExpertGrouping grouping, int nGroup)
    {
        int size = grouping.NumExperts / nGroup;
        foreach (var members in grouping.Groups)
            if (members.Select(e => e / size).Distinct().Count() > 1)
                return $"group [{string.Join(", ", members)}] crosses routing groups (n_group = {nGroup}: routing group g holds experts "
                       + $"g·{size} .. g·{size}+{size - 1}); merge groups must stay within one routing group";
        var perGroup = new int[nGroup];
        foreach (var members in grouping.Groups) perGroup[members[0] / size]++;
        if (perGroup.Distinct().Count() > 1)
            return $"routing groups would keep {string.Join(", ", perGroup)} merged experts; group-limited routing (n_group = {nGroup}) "
                   + "needs the same number in every routing group";
        return null;
    }

    /// <summary>The similarity among experts start .. start+size−1.</summary>
    private static SimilarityMatrix Sub(SimilarityMatrix s, int start, int size)
    {
        var values = new double[size * size];
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
                values[i * size + j] = s[start + i, start + j];
        return new SimilarityMatrix(s.Kind, size, values);
    }
}
