using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs.FineTuning;
using MoePrune.Models;
using MoePrune.Training;

namespace MoePrune.Jobs.Strategies;

/// <summary>
/// <c>moeprune prune --strategy …</c> as a library call: the rounds of <see cref="StrategyRequest.Rounds"/> run by
/// <see cref="PruneRun"/> (each re-scores the model the previous round left), with a <see cref="RoundFineTune"/> after
/// every cut for the lottery or after the one cut of a recalibration, and a <see cref="RoundEvaluation"/> of every
/// round (perplexity, expert load, KL to the original, tasks). The run folder holds every round and the fine-tunes'
/// trainer checkpoints, so a run killed at any moment resumes to the same final tensors (same torch threads).
/// </summary>
public static class StrategyJob
{
    /// <param name="log">Receives a line per round (and every 50 fine-tune steps).</param>
    /// <param name="step">Receives every fine-tune step (round, report).</param>
    public static PruneRunResult Run(StrategyRequest r, Action<ScoringProgress>? progress = null, Action<string>? log = null,
                                     Action<int, StepReport>? step = null)
    {
        r.Check();
        var config = MoeConfig.Load(Path.Combine(r.ModelDir, "config.json"));
        var run = new PruneRunRequest
        {
            ModelDir = r.ModelDir, Rounds = r.Rounds(config), OutDir = r.OutDir, Force = r.Force, WorkDir = r.WorkDir, Resume = r.Resume, Dtype = r.Dtype,
            Settings = r.SettingsJson(),
        };
        var evaluation = r.Evaluation;
        var sequences = evaluation?.Sequences(r.ModelDir);
        var tasks = evaluation is { Tasks.Count: > 0 } ? RoundTasks.Create(r.ModelDir, evaluation) : null;
        RoundEvaluation? evaluator = null;
        try
        {
            var result = PruneRun.Run(run, original =>
            {
                if (evaluation is not null)
                    evaluator = new RoundEvaluation(sequences!.Sequences, sequences.Description, evaluation.BatchSize)
                    {
                        Parent = evaluation.Kl ? original : null, Tasks = tasks,
                    };
                return Hooks(r, original, evaluator, log, step);
            }, progress);
            if (r.WorkDir is not null && r.FineTunes) RoundFineTune.Clean(r.WorkDir);
            return result;
        }
        finally { evaluator?.Dispose(); }
    }

    static RoundHooks Hooks(StrategyRequest r, MoeForCausalLM original, RoundEvaluation? evaluator, Action<string>? log, Action<int, StepReport>? step)
    {
        var hooks = evaluator?.With(RoundHooks.None) ?? RoundHooks.None;
        if (r.FineTunes)
            hooks = new RoundFineTune(r.ResolvedFineTune(), r.Strategy == PruneStrategy.Lottery ? r.Growth : 1, r.ModelDir, original, r.WorkDir)
            {
                Before = evaluator is null ? null : evaluator.Perplexity,
                Step = (k, s) =>
                {
                    step?.Invoke(k, s);
                    if (log is not null && (s.Step == s.TotalSteps || s.Step % 50 == 0))
                        log($"round {k}: fine-tune step {s.Step}/{s.TotalSteps}, loss {s.CrossEntropy:F4}");
                },
            }.With(hooks);
        if (log is null) return hooks;
        var evaluate = hooks.Evaluate;
        return hooks with
        {
            Evaluate = round =>
            {
                var e = evaluate?.Invoke(round);
                string cut = string.Join(" ", round.Choice.Selections.Select(s => $"L{s.Key}-{string.Join(",", round.LineageBefore.Originals(s.Key, s.Value.Removed))}"));
                log($"round {round.Round}: {cut}" + (e?["perplexity"] is JsonNode p ? $"  perplexity {(double)p:F2}" : ""));
                return e;
            },
        };
    }
}
