using MoePrune.Criteria;
using MoePrune.IO;
using static TorchSharp.torch;

namespace MoePrune.Pruning.Selectors;

/// <summary>
/// The experts an MTP layer keeps when the main layers are pruned to <c>count</c> experts (MTP layers share
/// <c>n_routed_experts</c>, so an export must prune them to the same count or drop them). MoePrune does not run the MTP
/// forward, so no routing statistic exists for these layers: the rule is weight-only and not calibrated — each group
/// (or the whole layer without group-limited routing) keeps its experts of largest weight norm ‖[gate | up | down]‖
/// (the EWN criterion), the same number dropped from every group.
/// </summary>
public static class MtpExpertSelection
{
    /// <summary>Per MTP layer of <paramref name="source"/>, the selection keeping <paramref name="count"/> experts by weight norm.</summary>
    public static SortedDictionary<int, LayerSelection> ByWeightNorm(ITensorSource source, int count)
    {
        var config = source.Config;
        int experts = config.NumExperts;
        if (count < config.TopK || count > experts)
            throw new MoePruneException($"{config.Path}: MTP layers cannot keep {count} of {experts} experts (top-k is {config.TopK})");
        int dropPerGroup = GroupBalancedSelection.DropsPerGroup(config, experts - count);
        var scores = Enumerable.Range(config.NumHiddenLayers, config.NumMtpLayers)
            .ToDictionary(l => l, l => WeightNorms(source, l, experts));
        int groups = config.Groups.IsGroupLimited ? config.Groups.NGroup : 1;
        return GroupBalancedSelection.Select(scores, DropDirection.Min, groups, dropPerGroup);
    }

    /// <summary>‖[gate | up | down]‖₂ of every expert of <paramref name="layer"/>, read one tensor at a time (FP8 dequantized).</summary>
    private static double[] WeightNorms(ITensorSource source, int layer, int experts)
    {
        var (gate, up, down) = source.Config.Family.ExpertProjNames;
        string prefix = $"model.layers.{layer}.{source.Config.Family.MoeModuleName}.experts.";
        var norms = new double[experts];
        for (int e = 0; e < experts; e++)
        {
            double sq = 0;
            foreach (var proj in new[] { gate, up, down })
            {
                using var scope = NewDisposeScope();
                var w = source.ReadFloat32($"{prefix}{e}.{proj}.weight").to(ScalarType.Float64);   // (I, H) or (H, I)
                sq += w.mul(w).sum().item<double>();
            }
            norms[e] = Math.Sqrt(sq);
        }
        return norms;
    }
}
