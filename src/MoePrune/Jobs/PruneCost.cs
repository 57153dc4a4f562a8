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
        var (before, activeBefore) = input.CountParameters();
        var (after, activeAfter) = CountAfter(round);
        long elementBytes = input.Dtype == torch.ScalarType.Float32 ? 4 : 2;                     // f32, or bf16/f16
        var cost = new JsonObject
        {
            ["dtype"] = DtypeNames.ToConfigName(input.Dtype),
            ["parameters"] = BeforeAfter(before, after),
            ["active_parameters"] = BeforeAfter(activeBefore, activeAfter),
            ["parameter_bytes"] = BeforeAfter(before * elementBytes, after * elementBytes),
            ["experts_per_layer"] = new JsonObject(round.LineageAfter.Layers.Select(l => KeyValuePair.Create(
                l.ToString(), (JsonNode?)new JsonObject { ["before"] = round.LineageBefore.OriginalCount(l), ["after"] = round.Choice.Selections[l].Kept.Length }))),
        };
        if (!evaluation.Enabled) { cost["perplexity"] = null; cost["perplexity_skipped"] = "not asked for"; return cost; }
        if (evaluation.TokenFile is null && !File.Exists(Path.Combine(modelDir, "tokenizer.json")))
        {
            cost["perplexity"] = null;
            cost["perplexity_skipped"] = $"{modelDir} has no tokenizer.json for the Brown validation sample";
            return cost;
        }
        var set = StudyEvaluationSet.For(modelDir, evaluation.SequencesPerGenre, evaluation.TokenFile);
        var ppBefore = Perplexity.Evaluate(input, set.Sequences, evaluation.BatchSize);
        var ppAfter = Perplexity.Evaluate(round.Model, set.Sequences, evaluation.BatchSize);
        cost["perplexity"] = new JsonObject
        {
            ["before"] = ppBefore.Perplexity, ["after"] = ppAfter.Perplexity,
            ["change"] = ppAfter.Perplexity / ppBefore.Perplexity - 1,
            ["data"] = set.Description, ["sequences"] = set.Sequences.Count, ["tokens"] = ppBefore.Tokens,
        };
        return cost;
    }

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
