using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs.FineTuning;
using MoePrune.Models;
using MoePrune.Pruning;
using static TorchSharp.torch;

namespace MoePrune.Jobs.Strategies;

/// <summary>
/// What <see cref="StrategyJob.Run"/> does: reach <see cref="Selection"/>'s target (experts dropped per layer) by
/// <see cref="Strategy"/> with <see cref="Criterion"/>, optionally recalibrate a one-shot cut, evaluate every round,
/// keep the rounds in a resumable run folder and export the final model.
/// </summary>
public sealed record StrategyRequest
{
    public required string ModelDir { get; init; }
    /// <summary>Export the final model here (must not exist or be empty); null: no export.</summary>
    public string? OutDir { get; init; }
    /// <summary>Replace an existing non-empty <see cref="OutDir"/> (at the end, atomically).</summary>
    public bool Force { get; init; }
    /// <summary>Run folder (rounds, fine-tune checkpoints); null: nothing is kept.</summary>
    public string? WorkDir { get; init; }
    public bool Resume { get; init; }
    public PruneStrategy Strategy { get; init; } = PruneStrategy.OneShot;
    public required string Criterion { get; init; }
    /// <summary>Scores of the checkpoint as loaded, for the first round.</summary>
    public string? ScoresFile { get; init; }
    /// <summary>The target: experts dropped per layer after all rounds.</summary>
    public SelectionRequest Selection { get; init; } = new();
    /// <summary>Experts dropped per layer per round (iterative, lottery); the last round drops what is left.</summary>
    public int PerRound { get; init; } = 1;
    public CalibrationSettings Calibration { get; init; } = new();
    /// <summary>Fine-tune settings of lottery rounds and of a recalibration (its roles and objective resolved by <see cref="ResolvedFineTune"/>).</summary>
    public FineTuneSpec FineTune { get; init; } = new() { Tokens = 200_000 };
    /// <summary>Trained roles; null: all parameters for the lottery, the routers for a recalibration.</summary>
    public string? Train { get; init; }
    /// <summary>Objective; null: lm, or distill for <see cref="Recalibration.Distill"/>.</summary>
    public FineTuneObjective? Objective { get; init; }
    /// <summary>Each lottery round's budget is the previous one's times this.</summary>
    public double Growth { get; init; } = 2;
    public Recalibration Recalibrate { get; init; } = Recalibration.None;
    /// <summary>Per-round evaluation; null: none.</summary>
    public RoundEvaluationSpec? Evaluation { get; init; } = new();
    public ScalarType? Dtype { get; init; }
    /// <summary>Drop the MTP layers in every round instead of pruning them to the main layers' count (<see cref="RoundSpec.DropMtp"/>).</summary>
    public bool DropMtp { get; init; }
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    /// <summary>True when rounds fine-tune (lottery, or a recalibration).</summary>
    public bool FineTunes => Strategy == PruneStrategy.Lottery || Recalibrate != Recalibration.None;

    public FineTuneSpec ResolvedFineTune() => FineTune with
    {
        Train = Train ?? (Recalibrate != Recalibration.None ? "routers" : "all"),
        Objective = Objective ?? (Recalibrate == Recalibration.Distill ? FineTuneObjective.Distill : FineTuneObjective.Lm),
        Names = Names,
    };

    /// <summary>The checks that need no model.</summary>
    public void Check()
    {
        var n = Names;
        if (PerRound < 1) throw new MoePruneException($"{n[StrategyNames.PerRound]}: {PerRound} must be at least 1");
        if (Recalibrate != Recalibration.None && Strategy != PruneStrategy.OneShot)
            throw new MoePruneException($"{n[StrategyNames.Recalibrate]}: recalibrates a one-shot cut; the {PruneStrategies.Name(Strategy)} strategy fine-tunes (or not) every round itself");
        if (Recalibrate == Recalibration.Distill && Objective == FineTuneObjective.Lm)
            throw new MoePruneException($"{n[StrategyNames.Recalibrate]} distill: conflicts with {n[FineTuneNames.Objective]} lm");
        if (Recalibrate == Recalibration.Routers && Objective == FineTuneObjective.Distill)
            throw new MoePruneException($"{n[StrategyNames.Recalibrate]} routers: a next-token fine-tune; for distillation use {n[StrategyNames.Recalibrate]} distill");
        if (Strategy != PruneStrategy.OneShot)
        {
            if (Selection.Global) throw new MoePruneException($"{n[OptionNames.Global]}: only with the one-shot strategy (rounds drop the same count from every layer)");
            if (Selection.Protect.Count > 0) throw new MoePruneException($"{n[OptionNames.Protect]}: only with the one-shot strategy");
        }
        if (!(Growth > 0) || !double.IsFinite(Growth)) throw new MoePruneException($"{n[FineTuneNames.Growth]}: {Growth} must be a positive number");
        if (FineTunes) ResolvedFineTune().Check();
        Evaluation?.Check(n);
        if (Resume && WorkDir is null) throw new MoePruneException($"{n[StrategyNames.Resume]}: needs {n[StrategyNames.Work]} (the run folder to resume)");
        Rounds(null).ToList().ForEach(r => r.Check());
    }

    /// <summary>
    /// The rounds: one with the whole target (one-shot), or rounds of <see cref="PerRound"/> drops until the target
    /// (the same count in every MoE layer of <paramref name="config"/>; null: checks without a model).
    /// </summary>
    public IReadOnlyList<RoundSpec> Rounds(MoeConfig? config)
    {
        var criterion = CriterionSpec.Parse(Criterion, Names[OptionNames.Criterion]);
        RoundSpec Round(SelectionRequest s, bool first) => new()
        {
            Criterion = criterion, ScoresFile = first ? ScoresFile : null, Selection = s with { Names = Names },
            Calibration = Calibration, DropMtp = DropMtp, Names = Names,
        };
        if (Strategy == PruneStrategy.OneShot) return [Round(Selection, true)];
        if (config is null) return [Round(Selection, true)];
        var drops = config.MoeLayerIndices.Select(l => (Layer: l, Drops: Selection.DropsFor(config.ExpertsInLayer(l)))).ToList();
        if (drops.Count == 0) throw new MoePruneException($"{config.Path}: the model has no MoE layer");
        if (drops.Select(d => d.Drops).Distinct().Count() > 1)
            throw new MoePruneException($"{config.Path}: the target drops {string.Join(", ", drops.Select(d => $"{d.Drops} from layer {d.Layer}"))}; " +
                                        $"the {PruneStrategies.Name(Strategy)} strategy needs the same count in every layer (give {Names[OptionNames.Drop]})");
        int total = drops[0].Drops;
        if (total == 0) throw new MoePruneException($"{Names.OneOf(OptionNames.Drop, OptionNames.Keep, OptionNames.Ratio)}: the target drops no expert");
        var rounds = new List<RoundSpec>();
        for (int done = 0; done < total; done += PerRound)
            rounds.Add(Round(new SelectionRequest { Drop = Math.Min(PerRound, total - done) }, rounds.Count == 0));
        return rounds;
    }

    /// <summary>The settings beyond the rounds that decide the outcome (run.json).</summary>
    public JsonObject SettingsJson() => new()
    {
        ["strategy"] = PruneStrategies.Name(Strategy),
        ["per_round"] = Strategy == PruneStrategy.OneShot ? null : PerRound,
        ["recalibrate"] = PruneStrategies.Name(Recalibrate),
        ["finetune"] = FineTunes ? ResolvedFineTune().ToJson() : null,
        ["finetune_growth"] = Strategy == PruneStrategy.Lottery ? Growth : null,
        ["evaluation"] = Evaluation?.ToJson(),
    };
}

/// <summary>The strategy settings' neutral names.</summary>
public static class StrategyNames
{
    public const string Strategy = "strategy";
    public const string PerRound = "per-round";
    public const string Recalibrate = "recalibrate";
    public const string Work = "work";
    public const string Resume = "resume";
}
