namespace MoePrune.Merging.Merge;

/// <summary>The closed-form coefficients α of one group (they sum to 1). Learned ones come from <see cref="LearnedMerge"/>.</summary>
public static class MergeCoefficients
{
    /// <param name="members">original expert indices of the group</param>
    /// <param name="routedCounts">(E) routed-token counts; needed by Frequency and MaxFrequency</param>
    public static double[] For(MergeMethod method, IReadOnlyList<int> members, IReadOnlyList<double>? routedCounts)
    {
        int n = members.Count;
        if (n == 1) return [1.0];
        if (method == MergeMethod.Uniform || method == MergeMethod.Learned) return Enumerable.Repeat(1.0 / n, n).ToArray();
        if (routedCounts is null)
            throw new MoePruneException($"{MergeMethods.Name(method)} merging needs the layer's routed-token counts");
        var counts = members.Select(e => routedCounts[e]).ToArray();
        if (counts.Any(c => c < 0 || double.IsNaN(c)))
            throw new MoePruneException($"{MergeMethods.Name(method)} merging: negative or NaN routed-token count among experts {string.Join(", ", members)}");
        if (method == MergeMethod.MaxFrequency)
        {
            int best = 0;
            for (int i = 1; i < n; i++)
                if (counts[i] > counts[best]) best = i;
            return Enumerable.Range(0, n).Select(i => i == best ? 1.0 : 0.0).ToArray();
        }
        double total = counts.Sum();
        return total > 0 ? counts.Select(c => c / total).ToArray() : Enumerable.Repeat(1.0 / n, n).ToArray();
    }
}
