namespace MoePrune.Merging.Partition;

/// <summary>Checks on a grouping and on a requested group count; each problem is one line.</summary>
public static class GroupValidation
{
    /// <summary>Structural problems: empty groups, indices outside 0..E−1, experts named twice or missing.</summary>
    public static List<string> Structure(IReadOnlyList<int[]> groups, int numExperts)
    {
        var problems = new List<string>();
        if (groups.Count == 0) { problems.Add("no groups"); return problems; }
        for (int g = 0; g < groups.Count; g++)
            if (groups[g].Length == 0) problems.Add($"group {g} is empty");
        var all = groups.SelectMany(g => g).ToList();
        var outside = all.Where(e => e < 0 || e >= numExperts).Distinct().Order().ToList();
        if (outside.Count > 0)
            problems.Add($"expert(s) {string.Join(", ", outside)} do not exist (the layer has {numExperts} experts, 0..{numExperts - 1})");
        var twice = all.GroupBy(e => e).Where(x => x.Count() > 1).Select(x => x.Key).Order().ToList();
        if (twice.Count > 0) problems.Add($"expert(s) {string.Join(", ", twice)} appear more than once");
        var missing = Enumerable.Range(0, numExperts).Except(all).ToList();
        if (missing.Count > 0) problems.Add($"expert(s) {string.Join(", ", missing)} are in no group");
        return problems;
    }

    /// <summary>
    /// A requested number of merged experts r for a layer of E experts and top-k routing: it must satisfy
    /// top-k ≤ r &lt; E (r = E would merge nothing). Null when valid.
    /// </summary>
    public static string? GroupCount(int layer, int groups, int numExperts, int topK)
    {
        if (groups < topK)
            return $"layer {layer}: {groups} merged experts are fewer than top-k = {topK} (every token needs {topK} distinct experts)";
        if (groups >= numExperts)
            return $"layer {layer}: {groups} merged experts do not reduce its {numExperts} experts (need fewer than {numExperts})";
        return null;
    }
}
