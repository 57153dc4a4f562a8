using System.Text.Json.Nodes;

namespace MoePrune.Jobs;

/// <summary>
/// Optional steps of a round after the surgery, each given the round (its pruned model is built on first use of
/// <see cref="RoundContext.Model"/>) and returning what to record (null: nothing). <see cref="FineTune"/> may change
/// the model's weights in place; <see cref="Evaluate"/> runs after it.
/// </summary>
public sealed record RoundHooks
{
    public Func<RoundContext, JsonNode?>? FineTune { get; init; }
    public Func<RoundContext, JsonNode?>? Evaluate { get; init; }

    public static RoundHooks None { get; } = new();
}
