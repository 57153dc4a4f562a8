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

    /// <summary>Runs the hooks on a round whose plan is made and returns it; disposes it when a hook throws.</summary>
    public static RoundContext Apply(RoundContext round, RoundHooks? hooks)
    {
        try
        {
            hooks ??= None;
            if (hooks.FineTune is { } fineTune) round.FineTune = fineTune(round);
            if (hooks.Evaluate is { } evaluate) round.Evaluation = evaluate(round);
            return round;
        }
        catch
        {
            round.Dispose();
            throw;
        }
    }
}
