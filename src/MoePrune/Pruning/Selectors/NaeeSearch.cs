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
        if (mode == NaeeMode.Exhaustive)
        {
            double count = Combinations(n - protect.Count, keep - protect.Count);
            if (count > cap)
                throw new MoePruneException($"naee: layer {layer}: C({n - protect.Count}, {keep - protect.Count}) = {count:G6} subsets exceed the cap of {cap}; use the greedy NAEE variant");
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
            ? Exhaustive(n, keep, protect, Error, evaluated)
            : Greedy(n, keep, protect, Error, evaluated);
        var result = new NaeeLayerResult { LayerIndex = layer, Keep = keep, Mode = mode, InputRows = sample.Rows, Best = best };
        foreach (var (size, list) in evaluated) result.Evaluated[size] = list;
        return result;
    }

    private static ExpertSubset Exhaustive(int n, int keep, IReadOnlyCollection<int> protect, Func<int[], double> error,
        SortedDictionary<int, List<ExpertSubset>> evaluated)
    {
        var list = evaluated[keep] = [];
        ExpertSubset? best = null;
        foreach (var subset in Subsets(n, keep).Where(s => protect.All(s.Contains)))
        {
            var candidate = new ExpertSubset(subset, error(subset));
            list.Add(candidate);
            if (best is null || candidate.Error < best.Error) best = candidate;
        }
        return best!;
    }

    private static ExpertSubset Greedy(int n, int keep, IReadOnlyCollection<int> protect, Func<int[], double> error,
        SortedDictionary<int, List<ExpertSubset>> evaluated)
    {
        var current = new ExpertSubset(Enumerable.Range(0, n).ToArray(), 0.0);
        while (current.Experts.Length > keep)
        {
            var list = evaluated[current.Experts.Length - 1] = [];
            ExpertSubset? best = null;
            foreach (var drop in current.Experts.Where(e => !protect.Contains(e)))
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
