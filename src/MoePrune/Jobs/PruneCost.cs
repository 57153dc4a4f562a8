using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Studies;
using TorchSharp;

namespace MoePrune.Jobs;

/// <summary>
/// How <c>prune</c> measures what it cost: the quick held-out perplexity check (on by default) and its sample,
/// the first <see cref="SequencesPerGenre"/> sequences of 256 tokens of each genre of the Brown validation split
/// (<see cref="StudyEvaluationSet"/>), or the sequences of <see cref="TokenFile"/>.
/// </summary>
public sealed record PruneEvaluation
{
    public bool Enabled { get; init; } = true;
    public int SequencesPerGenre { get; init; } = 1;
    public string? TokenFile { get; init; }
    public int BatchSize { get; init; } = 8;
}

/// <summary>
/// What a prune cost: parameters (total and active per token) and parameter bytes in the held dtype before and
/// after, and, when <see cref="PruneEvaluation.Enabled"/>, the perplexity of the input and of the pruned model
/// (built in memory) on the same small held-out sample. Recorded as <c>cost</c> in <c>pruning.json</c>.
/// </summary>
public static class PruneCost
{
    /// <summary>Checks the evaluation settings before any work.</summary>
    public static void Check(PruneEvaluation e, OptionNames names)
    {
        if (!e.Enabled) return;
        if (e.SequencesPerGenre < 1) throw new MoePruneException($"{names[OptionNames.EvalSequences]}: {e.SequencesPerGenre} must be at least 1");
        if (e.TokenFile is { } f && !File.Exists(f)) throw new MoePruneException($"{f}: token file not found");
    }

    public static JsonObject Measure(RoundContext round, string modelDir, PruneEvaluation evaluation)
    {
        var input = round.Parent;
        var cost = Sizes(input.Dtype, input.CountParameters(), CountAfter(round),
            round.LineageAfter.Layers.Select(l => (l, round.LineageBefore.OriginalCount(l), round.Choice.Selections[l].Kept.Length)));
        if (PerplexitySkipped(cost, modelDir, evaluation)) return cost;
        var set = StudyEvaluationSet.For(modelDir, evaluation.SequencesPerGenre, evaluation.TokenFile);
        var ppBefore = Perplexity.Evaluate(input, set.Sequences, evaluation.BatchSize);
        var ppAfter = Perplexity.Evaluate(round.Model, set.Sequences, evaluation.BatchSize);
        cost["perplexity"] = PerplexityChange(ppBefore, ppAfter, set);
        return cost;
    }

    /// <summary>The size part of the record: parameters, active parameters and bytes before and after, and experts per layer.</summary>
    internal static JsonObject Sizes(torch.ScalarType dtype, (long Total, long Active) before, (long Total, long Active) after,
        IEnumerable<(int Layer, int Before, int After)> expertsPerLayer)
    {
        long elementBytes = dtype == torch.ScalarType.Float32 ? 4 : 2;                           // f32, or bf16/f16
        return new JsonObject
        {
            ["dtype"] = DtypeNames.ToConfigName(dtype),
            ["parameters"] = BeforeAfter(before.Total, after.Total),
            ["active_parameters"] = BeforeAfter(before.Active, after.Active),
            ["parameter_bytes"] = BeforeAfter(before.Total * elementBytes, after.Total * elementBytes),
            ["experts_per_layer"] = new JsonObject(expertsPerLayer.Select(e => KeyValuePair.Create(
                e.Layer.ToString(), (JsonNode?)BeforeAfter(e.Before, e.After)))),
        };
    }

    /// <summary>Records why no perplexity is measured (not asked for, or no tokenizer for the Brown sample); false when it can be.</summary>
    internal static bool PerplexitySkipped(JsonObject cost, string modelDir, PruneEvaluation evaluation)
    {
        string? reason = !evaluation.Enabled ? "not asked for"
            : evaluation.TokenFile is null && !File.Exists(Path.Combine(modelDir, "tokenizer.json")) ? $"{modelDir} has no tokenizer.json for the Brown validation sample"
            : null;
        if (reason is null) return false;
        cost["perplexity"] = null;
        cost["perplexity_skipped"] = reason;
        return true;
    }

    /// <summary>The perplexity part of the record: input and pruned model on the same sample.</summary>
    internal static JsonObject PerplexityChange(PerplexityResult before, PerplexityResult after, StudyEvaluationSet set) => new()
    {
        ["before"] = before.Perplexity, ["after"] = after.Perplexity,
        ["change"] = after.Perplexity / before.Perplexity - 1,
        ["data"] = set.Description, ["sequences"] = set.Sequences.Count, ["tokens"] = before.Tokens,
    };

    /// <summary>Parameter counts of the pruned model, from its config on the meta device (no weights).</summary>
    private static (long Total, long Active) CountAfter(RoundContext round)
    {
        if (round.IsBuilt) return round.Model.CountParameters();
        var config = ResolvedExpertPlan.Resolve(round.Parent.Config, round.Plan, round.Spec.NonUniform).Config;
        using var meta = new MoeForCausalLM(config, device: new torch.Device(DeviceType.META));
        return meta.CountParameters();
    }

    private static JsonObject BeforeAfter(long before, long after) => new() { ["before"] = before, ["after"] = after };
}
