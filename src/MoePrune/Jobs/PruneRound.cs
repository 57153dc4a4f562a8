using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>The model a round starts from and what is known about it.</summary>
/// <param name="Round">1-based round number.</param>
/// <param name="Model">The current model (not owned by the round).</param>
/// <param name="Lineage">The original experts each of its slots holds.</param>
/// <param name="SourceDir">The original checkpoint directory (tokenizer for text calibration sources).</param>
public sealed record RoundInput(int Round, MoeForCausalLM Model, ExpertLineage Lineage, string SourceDir)
{
    /// <summary>Statistics already collected on <see cref="Model"/> for the round's criterion (else the round collects them).</summary>
    public CriteriaStats? Statistics { get; init; }
}

/// <summary>
/// One pruning round: score the CURRENT model (or read its scores, or a keep-map) and select
/// (<see cref="RoundSelection"/>), keep the MTP layers consistent (<see cref="MtpChoice"/>: pruned to the main layers' count
/// by weight norm, or dropped), check the surgery plan, compose the lineage, then the optional hooks (fine-tune,
/// evaluate) on the pruned model built in memory. The caller exports, records or hands the model to the next round.
/// </summary>
public static class PruneRound
{
    public static RoundContext Run(RoundInput input, RoundSpec spec, RoundHooks? hooks = null, Action<ScoringProgress>? progress = null)
    {
        spec.Check();
        var choice = RoundSelection.Choose(input, spec, progress);
        var counts = choice.Selections.Values.Select(s => s.Kept.Length).Distinct().ToList();
        var mtp = MtpChoice.For(input.Model, counts.Count == 1 ? counts[0] : input.Model.Config.NumExperts, spec.DropMtp);
        var plan = MtpChoice.KeepPlan(choice.Selections.Values, mtp);
        ExpertSurgery.Validate(input.Model.Config, plan, spec.NonUniform);
        var round = new RoundContext(input.Round, input.Model, spec, choice, plan, input.Lineage, input.Lineage.Keep(choice.Selections)) { Mtp = mtp };
        return RoundHooks.Apply(round, hooks);
    }
}
