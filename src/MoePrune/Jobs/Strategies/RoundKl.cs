using System.Text.Json.Nodes;
using MoePrune.Evaluation.Kl;
using MoePrune.Models;

namespace MoePrune.Jobs.Strategies;

/// <summary>KL(parent ‖ model) of the next-token distributions over every predicted position of the round's evaluation sequences (<see cref="KlDivergence"/>).</summary>
public static class RoundKl
{
    public static JsonNode? Measure(MoeForCausalLM model, MoeForCausalLM parent, IReadOnlyList<int[]> sequences)
    {
        var kl = KlDivergence.Evaluate(model, parent, sequences);
        return new JsonObject
        {
            ["mean"] = kl.Mean, ["p99"] = kl.P99, ["top1_agreement"] = kl.Top1Agreement, ["positions"] = kl.Positions,
            ["parent_perplexity"] = kl.ReferencePerplexity,
        };
    }
}
