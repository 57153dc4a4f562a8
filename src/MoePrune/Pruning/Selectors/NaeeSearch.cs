using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Pruning.Selectors;

/// <summary>
/// NAEE baseline (Lu et al., ACL 2024) for one layer: the subset of kept experts that minimises the
/// reconstruction error Σ_x ‖F(x) − F_S(x)‖² of the MoE block's output on the layer's
/// <see cref="LayerInputSample"/>, evaluated with ForwardWithExperts. <see cref="NaeeSelector"/> runs it per layer.
/// Under group-limited routing (<see cref="IMoeLayerView.RoutingGroups"/> &gt; 1) only group-balanced subsets are
/// searched, the ones surgery can realise: each group keeps keep/n_group of its own experts (exhaustive: every such
/// subset; greedy: a step removes an expert only from a group that still holds more than that).
/// </summary>
public static class NaeeSearch
{
    /// <summary>Most subsets an exhaustive search evaluates per layer.</summary>
    public const int DefaultCap = 5000;

    public static NaeeLayerResult SearchLayer(IMoeLayerView view, LayerInputSample? sample, int keep, NaeeMode mode,
        int cap = DefaultCap, IReadOnlyCollection<int>? protect = null, Action? evaluatedOne = null)
    {
        int n = view.NumExperts, layer = view.LayerIndex;
        protect ??= [];
        if (sample is null || sample.Rows == 0)
            throw new MoePruneException($"naee: layer {layer} has no input sample; collect statistics with naee requested");
        if (keep < view.TopK || keep > n)
            throw new MoePruneException($"naee: layer {layer}: keep {keep} must be between top-k {view.TopK} and {n} experts");
        if (protect.Count > keep)
            throw new MoePruneException($"naee: layer {layer}: {protect.Count} protected experts exceed keep {keep}");
        int groups = CheckedGroups(view, keep, protect);
        if (mode == NaeeMode.Exhaustive)
        {
            double count = CountSubsets(n, keep, groups, protect);
            if (count > cap)
                throw new MoePruneException(groups == 1
                    ? $"naee: layer {layer}: C({n - protect.Count}, {keep - protect.Count}) = {count:G6} subsets exceed the cap of {cap}; use the greedy NAEE variant"
                    : $"naee: layer {layer}: {count:G6} group-balanced subsets ({keep / groups} of each of {groups} groups) exceed the cap of {cap}; use the greedy NAEE variant");
        }
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = sample.ToTensor(view.RouterWeight.dtype);                                  // (M, H) stored MoE inputs
        var full = view.ForwardWithExperts(x, Enumerable.Repeat(true, n).ToArray()).to(ScalarType.Float64); // (M, H) F(x)
        double Error(int[] subset)
        {
            using var inner = torch.NewDisposeScope();
            evaluatedOne?.Invoke();
            var mask = new bool[n];
            foreach (var e in subset) mask[e] = true;
            var part = view.ForwardWithExperts(x, mask).to(ScalarType.Float64);              // (M, H) F_S(x)
            return (full - part).square().sum().item<double>();
        }
        var evaluated = new SortedDictionary<int, List<ExpertSubset>>();
        var best = mode == NaeeMode.Exhaustive
            ? Exhaustive(n, keep, groups, protect, Error, evaluated)
            : Greedy(n, keep, groups, protect, Error, evaluated);
        var result = new NaeeLayerResult { LayerIndex = layer, Keep = keep, Mode = mode, InputRows = sample.Rows, Best = best };
        foreach (var (size, list) in evaluated) result.Evaluated[size] = list;
        return result;
    }

    /// <summary>
    /// The layer's routing groups, checked: <paramref name="keep"/> must split equally over them and no group may hold
    /// more protected experts than its share.
    /// </summary>
    private static int CheckedGroups(IMoeLayerView view, int keep, IReadOnlyCollection<int> protect)
    {
        int groups = view.RoutingGroups, n = view.NumExperts, layer = view.LayerIndex;
        if (groups <= 1) return 1;
        if (n % groups != 0 || keep % groups != 0)
            throw new MoePruneException($"naee: layer {layer}: keeping {keep} of {n} experts is not group-balanced: group-limited routing "
                                        + $"(n_group = {groups}) needs the same number kept in every group");
        int size = n / groups;
        foreach (var g in protect.GroupBy(e => e / size).Where(g => g.Count() > keep / groups).Take(1))
            throw new MoePruneException($"naee: layer {layer}: group {g.Key} has {g.Count()} protected experts, more than the {keep / groups} it keeps");
        return groups;
    }

    /// <summary>The subsets an exhaustive search evaluates: those of size <paramref name="keep"/> holding the protected experts, group-balanced.</summary>
    public static double CountSubsets(int n, int keep, int groups, IReadOnlyCollection<int> protect)
    {
        if (groups <= 1) return Combinations(n - protect.Count, keep - protect.Count);
        int size = n / groups, share = keep / groups;
        double count = 1;
        for (int g = 0; g < groups; g++)
        {
            int p = protect.Count(e => e / size == g);
            count *= Combinations(size - p, share - p);
        }
        return count;
    }

    private static ExpertSubset Exhaustive(int n, int keep, int groups, IReadOnlyCollection<int> protect, Func<int[], double> error,
        SortedDictionary<int, List<ExpertSubset>> evaluated)
    {
        var list = evaluated[keep] = [];
        ExpertSubset? best = null;
        foreach (var subset in BalancedSubsets(n, keep, groups).Where(s => protect.All(s.Contains)))
        {
            var candidate = new ExpertSubset(subset, error(subset));
            list.Add(candidate);
            if (best is null || candidate.Error < best.Error) best = candidate;
        }
        return best!;
    }

    private static ExpertSubset Greedy(int n, int keep, int groups, IReadOnlyCollection<int> protect, Func<int[], double> error,
        SortedDictionary<int, List<ExpertSubset>> evaluated)
    {
        int size = n / groups, share = keep / groups;
        var current = new ExpertSubset(Enumerable.Range(0, n).ToArray(), 0.0);
        while (current.Experts.Length > keep)
        {
            var list = evaluated[current.Experts.Length - 1] = [];
            ExpertSubset? best = null;
            var full = current.Experts.GroupBy(e => e / size).Where(g => g.Count() > share).Select(g => g.Key).ToHashSet(); // groups that still drop
            foreach (var drop in current.Experts.Where(e => !protect.Contains(e) && full.Contains(e / size)))
            {
                var subset = current.Experts.Where(e => e != drop).ToArray();
                var candidate = new ExpertSubset(subset, error(subset));
                list.Add(candidate);
                if (best is null || candidate.Error < best.Error) best = candidate;
            }
            current = best!;
        }
        return current;
    }

    /// <summary>
    /// The k-subsets of 0..n−1 that hold k/<paramref name="groups"/> experts of each group of n/groups consecutive experts,
    /// as ascending arrays in lexicographic order (all k-subsets when <paramref name="groups"/> is 1).
    /// </summary>
    public static IEnumerable<int[]> BalancedSubsets(int n, int k, int groups)
    {
        if (groups <= 1) return Subsets(n, k);
        int size = n / groups, share = k / groups;
        IEnumerable<int[]> result = [[]];
        for (int g = groups - 1; g >= 0; g--)                               // the first group varies slowest: lexicographic order
        {
            int offset = g * size;
            var rest = result;
            result = Subsets(size, share).SelectMany(s => rest.Select(r => s.Select(e => e + offset).Concat(r).ToArray()));
        }
        return result;
    }

    /// <summary>All k-subsets of 0..n−1 as ascending arrays, in lexicographic order.</summary>
    public static IEnumerable<int[]> Subsets(int n, int k)
    {
        var idx = Enumerable.Range(0, k).ToArray();
        while (true)
        {
            yield return (int[])idx.Clone();
            int i = k - 1;
            while (i >= 0 && idx[i] == n - k + i) i--;
            if (i < 0) yield break;
            idx[i]++;
            for (int j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
        }
    }

    public static double Combinations(int n, int k)
    {
        double c = 1;
        for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
        return c;
    }
}
