using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Jobs.Strategies;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Studies.Lottery;

/// <summary>
/// What the units of one study process share, built on first use: the original model, the evaluation sequences and
/// their <see cref="RoundEvaluation"/> (perplexity, load, KL to the original), the prepared tasks of part b, and the
/// models of part a's rows (rebuilt from a one-shot cut or an iterative lineage, or loaded from a lottery round).
/// </summary>
public sealed class LotteryStudyContext(LotteryStudyRequest request, StudyUnits units) : IDisposable
{
    MoeForCausalLM? _original;
    StudyEvaluationSet? _set;
    RoundEvaluation? _evaluation;
    Func<MoeForCausalLM, JsonNode?>? _tasks;

    public LotteryStudyRequest Request { get; } = request;
    public StudyUnits Units { get; } = units;
    public string RunsDir => Path.Combine(Request.WorkDir, "runs");

    public MoeForCausalLM Original => _original ??= ModelLoader.Load(Request.ModelDir);

    public StudyEvaluationSet EvaluationSet => _set ??= StudyEvaluationSet.For(Request.ModelDir, Request.EvalSequencesPerGenre, null);

    /// <summary>Perplexity, expert load and KL to the original model.</summary>
    public RoundEvaluation Evaluation => _evaluation ??= new RoundEvaluation(EvaluationSet.Sequences, EvaluationSet.Description, Request.Calibration.BatchSize)
    {
        Parent = Original,
    };

    public RoundEvaluationSpec EvaluationSpec => new() { SequencesPerGenre = Request.EvalSequencesPerGenre, BatchSize = Request.Calibration.BatchSize, Kl = true };

    /// <summary>Part b's tasks on a model.</summary>
    public JsonNode? Tasks(MoeForCausalLM model) =>
        (_tasks ??= RoundTasks.Create(Request.ModelDir, Request.Tasks, Request.TaskLimit, 0, Request.Calibration.BatchSize))(model);

    /// <summary>A unit's record, or a one-line error naming the unit it needs (the dependent unit is retried on the next run).</summary>
    public JsonObject Needs(string unit) => Units.Load(unit) ?? throw new MoePruneException($"needs unit {unit}, which has not finished");

    /// <summary>The original with only <paramref name="kept"/> (layer → original experts) left.</summary>
    public MoeForCausalLM Keep(IReadOnlyDictionary<int, IReadOnlyList<int>> kept) => ExpertSurgery.Apply(Original, ExpertPlan.Keep(kept));

    /// <summary>The model of row (strategy, criterion, seed) at <paramref name="drop"/> experts per layer, built or loaded.</summary>
    public MoeForCausalLM RowModel(string strategy, string criterion, int seed, int drop)
    {
        if (strategy == "one-shot")
        {
            var cut = Needs(LotteryStudy.OneShotUnit(seed))["rows"]![criterion]![drop.ToString()]!;
            return Keep(Kept(cut["kept"]!.AsObject()));
        }
        string run = Path.Combine(RunsDir, LotteryStudy.StrategyUnit(strategy, criterion, seed));
        Needs(LotteryStudy.StrategyUnit(strategy, criterion, seed));
        string round = Path.Combine(run, $"round-{drop}");
        if (strategy == "lottery") return ModelLoader.Load(Path.Combine(round, RunFolder.ModelFolder));
        var lineage = ExpertLineage.FromJson(IO.JsonFile.ReadObject(Path.Combine(round, RunFolder.LineageFile)), round);
        return Keep(lineage.Layers.ToDictionary(l => l, l => (IReadOnlyList<int>)lineage.KeptOriginals(l)));
    }

    public static Dictionary<int, IReadOnlyList<int>> Kept(JsonObject layers) =>
        layers.ToDictionary(kv => int.Parse(kv.Key), kv => (IReadOnlyList<int>)kv.Value!.AsArray().Select(v => (int)v!).ToList());

    public void Dispose()
    {
        _evaluation?.Dispose();
        _original?.Dispose();
    }
}
