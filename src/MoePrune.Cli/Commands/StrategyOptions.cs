using System.CommandLine;
using MoePrune.Jobs;
using MoePrune.Jobs.FineTuning;
using MoePrune.Jobs.Strategies;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>prune</c>'s strategy options: <c>--strategy one-shot|iterative|lottery</c>, <c>--per-round</c>, the lottery's
/// fine-tune (<c>--finetune-tokens</c>, <c>--finetune-growth</c>, <c>--train</c>, <c>--objective</c>, …),
/// <c>--recalibrate routers|distill</c>, the run folder (<c>--work</c>, <c>--resume</c>) and the per-round tasks
/// (<c>--eval-tasks</c>, <c>--eval-limit</c>); every round's perplexity and KL use prune's evaluation sample
/// (<c>--eval-sequences</c>, <c>--eval-token-file</c>; none with <c>--no-eval</c>).
/// </summary>
public sealed class StrategyOptions
{
    readonly Option<string> _strategy = new("--strategy") { Description = "one-shot (estimate once, cut), iterative (re-estimate after every --per-round cut) or lottery (iterative + a fine-tune after every cut)", DefaultValueFactory = _ => "one-shot" };
    readonly Option<int> _perRound = new("--per-round") { Description = "Experts dropped per layer per round (iterative, lottery)", DefaultValueFactory = _ => 1 };
    readonly Option<double> _growth = new("--finetune-growth") { Description = "Each lottery round's fine-tune budget is the previous one's times this", DefaultValueFactory = _ => 2.0 };
    readonly Option<string?> _recalibrate = new("--recalibrate") { Description = "After a one-shot cut: routers (routers-only next-token fine-tune) or distill (routers distilled from the parent)" };
    readonly Option<string?> _work = new("--work") { Description = "Run folder: every round's scores, cut, fine-tune and evaluation; --resume continues it" };
    readonly Option<bool> _resume = new("--resume") { Description = "Continue the run in --work (same settings and --threads give the same result bit for bit)" };
    readonly Option<string?> _evalTasks = new("--eval-tasks") { Description = "Evaluation-harness tasks scored after every round (built-in names or JSONL files, comma-separated)" };
    readonly Option<int?> _evalLimit = new("--eval-limit") { Description = "Only the first N documents of each --eval-tasks task" };
    readonly FineTuneOptions _fineTune = FineTuneOptions.Create("finetune-", 200_000);

    public void AddTo(Command cmd)
    {
        foreach (var o in new Option[] { _strategy, _perRound, _growth, _recalibrate, _work, _resume, _evalTasks, _evalLimit })
            cmd.Options.Add(o);
        _fineTune.AddTo(cmd);
    }

    /// <summary>True when the plain one-shot prune applies (no strategy, recalibration, run folder or evaluation asked for).</summary>
    public bool IsPlainOneShot(ParseResult pr) =>
        PruneStrategies.Parse(pr.GetValue(_strategy)!, "--strategy") == PruneStrategy.OneShot && pr.GetValue(_recalibrate) is null
        && pr.GetValue(_work) is null && pr.GetValue(_evalTasks) is null && !pr.GetValue(_resume);

    /// <summary>The strategy request around the plain prune request's settings.</summary>
    public StrategyRequest Bind(ParseResult pr, PruneRequest prune)
    {
        var names = _fineTune.Names(prune.Names);
        if (prune.KeepMapFile is not null) throw new MoePruneException("--keep-map: lists the kept experts itself; it takes no --strategy, --recalibrate, --work or --eval-tasks");
        string? tasks = pr.GetValue(_evalTasks);
        if (!prune.Evaluation.Enabled && tasks is not null) throw new MoePruneException("--eval-tasks: conflicts with --no-eval");
        return new StrategyRequest
        {
            ModelDir = prune.ModelDir, OutDir = prune.OutDir, Force = prune.Force, WorkDir = pr.GetValue(_work), Resume = pr.GetValue(_resume),
            Strategy = PruneStrategies.Parse(pr.GetValue(_strategy)!, "--strategy"),
            Criterion = prune.Criterion ?? throw new MoePruneException("--criterion: give the criterion to drop by"),
            ScoresFile = prune.ScoresFile, Selection = prune.Selection, PerRound = pr.GetValue(_perRound), Calibration = prune.Calibration,
            FineTune = _fineTune.Bind(pr, names), Train = pr.GetValue(_fineTune.Train),
            Objective = pr.GetValue(_fineTune.Objective) is { } o ? FineTuneSpec.ParseObjective(o, "--objective") : null,
            Growth = pr.GetValue(_growth), Recalibrate = PruneStrategies.ParseRecalibration(pr.GetValue(_recalibrate), "--recalibrate"),
            Evaluation = !prune.Evaluation.Enabled ? null : new RoundEvaluationSpec
            {
                SequencesPerGenre = prune.Evaluation.SequencesPerGenre, TokensFile = prune.Evaluation.TokenFile, BatchSize = prune.Evaluation.BatchSize,
                Tasks = tasks?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [], TaskLimit = pr.GetValue(_evalLimit),
            },
            Dtype = prune.Dtype, DropMtp = prune.DropMtp,
            Names = names.With(StrategyNames.PerRound, "--per-round").With(StrategyNames.Recalibrate, "--recalibrate")
                         .With(StrategyNames.Work, "--work").With(StrategyNames.Resume, "--resume").With(OptionNames.EvalSequences, "--eval-sequences"),
        };
    }
}
