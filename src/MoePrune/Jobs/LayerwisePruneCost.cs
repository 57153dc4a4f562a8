using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Layerwise;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Studies;
using TorchSharp;

namespace MoePrune.Jobs;

/// <summary>
/// <see cref="PruneCost"/> for a layer-by-layer prune, with the same record: parameter counts before and after from
/// shape-only models, and the held-out perplexity of the input and of the pruned model in ONE layer-by-layer run —
/// the pruned model as the input with the removed experts masked out of the routing (<see cref="SparseMoeBlock.ExpertMask"/>,
/// which computes what surgery's model computes, up to floating-point summation order) — so the pruned model is never built.
/// </summary>
internal static class LayerwisePruneCost
{
    public static JsonObject Measure(LayerwiseCheckpoint checkpoint, ExecutionChoice choice, LayerwiseSettings settings, ExpertPlan plan,
        RoundSpec spec, SortedDictionary<int, LayerSelection> selections, string modelDir, PruneEvaluation evaluation)
    {
        var after = ResolvedExpertPlan.Resolve(checkpoint.Config, plan, spec.NonUniform).Config;
        var cost = PruneCost.Sizes(checkpoint.Dtype, Count(checkpoint.Config, checkpoint.Dtype), Count(after, checkpoint.Dtype),
            selections.Select(kv => (kv.Key, kv.Value.NumExperts, kv.Value.Kept.Length)));
        if (PruneCost.PerplexitySkipped(cost, modelDir, evaluation)) return cost;
        var set = StudyEvaluationSet.For(modelDir, evaluation.SequencesPerGenre, evaluation.TokenFile);
        var keep = selections.ToDictionary(kv => kv.Key, kv => Enumerable.Range(0, kv.Value.NumExperts).Select(e => kv.Value.Kept.Contains(e)).ToArray());
        var (results, _, _) = LayerwisePerplexity.Evaluate(checkpoint, [set.Sequences, set.Sequences], evaluation.BatchSize,
            choice.HiddenMemoryBytes(checkpoint.Sizes), settings.SpillDir, keep: [null, keep]);
        var (ppBefore, ppAfter) = (results[0], results[1]);
        cost["perplexity"] = PruneCost.PerplexityChange(ppBefore, ppAfter, set);
        return cost;
    }

    private static (long Total, long Active) Count(MoeConfig config, torch.ScalarType dtype)
    {
        using var meta = new MoeForCausalLM(config, dtype, CheckpointSizes.Meta);
        return meta.CountParameters();
    }
}
