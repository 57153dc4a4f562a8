using System.Diagnostics;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Evaluation;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Studies;

/// <summary>
/// The one-shot dropping study (the paper's Fig. 4 / Table 2 one-shot columns) on one model. Per calibration
/// seed ONE calibration pass collects the statistics of every criterion (gradients included) and the layers'
/// input samples; both directions of each criterion are scored from those same statistics. Every (criterion,
/// direction, ratio) is one <see cref="PruneRound"/> on the unpruned model with those statistics (uniform
/// selection per layer, NAEE's subsets for naee) whose evaluate step (<see cref="PrunedEvaluator"/>) builds the
/// pruned model in memory and measures its perplexity on <see cref="StudyEvaluationSet"/>; identical selections
/// are evaluated once. The random baseline runs over its own seeds. Weight criteria read no data, so their
/// seeds agree (sd 0).
/// </summary>
public static class OneShotStudy
{
    public static OneShotStudyResult Run(OneShotStudyRequest request, Action<string>? log = null)
    {
        request.Check();
        var total = Stopwatch.StartNew();
        var evaluation = StudyEvaluationSet.For(request.ModelDir, request.EvalSequencesPerGenre, request.EvalTokensFile);
        using var model = ModelLoader.Load(request.ModelDir);
        model.eval();
        var result = new OneShotStudyResult
        {
            Request = request, Evaluation = evaluation, ModelSummary = Summary(model),
            EvaluationTokens = evaluation.PredictedTokens,
        };
        var clock = Stopwatch.StartNew();
        var unpruned = Perplexity.Evaluate(model, evaluation.Sequences, request.BatchSize);
        result.EvaluationSeconds = clock.Elapsed.TotalSeconds;
        result.References.Add(new StudyReference("unpruned", request.ModelDir, unpruned.Perplexity));
        log?.Invoke($"unpruned: perplexity {unpruned.Perplexity:F2} on {unpruned.Tokens} tokens ({result.EvaluationSeconds:F1} s)");
        if (request.DenseModelDir is { } dense) result.References.Add(EvaluateDense(dense, request));

        var evaluator = new PrunedEvaluator(evaluation.Sequences, request.BatchSize);
        var lineage = ExpertLineage.Identity(model.MoeLayers);
        var rows = Criteria().ToDictionary(s => s.Name, s => new StudyRow
        {
            Name = s.Name, Group = CriterionInfo.Group(s.Kind).ToString().ToLowerInvariant(), SeedKind = "calibration",
        });
        var naeeRow = new StudyRow { Name = "naee", Group = "baseline", SeedKind = "calibration" };
        var collect = CriterionSpec.AllScores.Concat(request.Naee ? [CriterionSpec.Parse("naee")] : []).ToList();
        foreach (int seed in request.CalibrationSeeds)
        {
            var data = CalibrationPacker.ForModel(request.ModelDir, request.Calibration, request.CalibrationSequences,
                                                  request.CalibrationLength, seed, model.Config.VocabSize);
            clock.Restart();
            var stats = CalibrationPass.Collect(model, data, collect, request.InputSampleRows, request.BatchSize);
            result.PassSeconds.Add(clock.Elapsed.TotalSeconds);
            result.CalibrationTokens = data.Tokens;
            result.CalibrationDescription = data.Describe();
            result.CalibrationData.Add(data.ToJson());
            log?.Invoke($"calibration seed {seed}: pass over {data.Tokens} tokens in {result.PassSeconds[^1]:F1} s");
            foreach (var spec in Criteria())
                foreach (double ratio in request.Ratios)
                    rows[spec.Name].Add(ratio, Measure(model, lineage, request, spec, ratio, seed, stats, evaluator).Measurement);
            if (request.Naee)
                foreach (double ratio in request.Ratios)
                {
                    clock.Restart();
                    var (m, evaluating) = Measure(model, lineage, request, CriterionSpec.Parse("naee"), ratio, seed, stats, evaluator);
                    result.NaeeSeconds.Add(clock.Elapsed.TotalSeconds - evaluating);
                    naeeRow.Add(ratio, m);
                }
            log?.Invoke($"calibration seed {seed}: {evaluator.Evaluations} pruned models evaluated so far ({evaluator.Seconds / Math.Max(1, evaluator.Evaluations):F1} s each)");
        }
        var random = new StudyRow { Name = "random", Group = "baseline", SeedKind = "random" };
        foreach (int seed in request.RandomSeeds)
            foreach (double ratio in request.Ratios)
                random.Add(ratio, Measure(model, lineage, request, CriterionSpec.Parse("random"), ratio, seed, null, evaluator).Measurement);
        result.Rows.AddRange(rows.Values);
        result.Rows.Add(random);
        if (request.Naee) result.Rows.Add(naeeRow);
        result.Evaluations = evaluator.Evaluations;
        result.Measurements = evaluator.Measurements;
        result.PrunedEvaluationSeconds = evaluator.Seconds;
        result.TotalSeconds = total.Elapsed.TotalSeconds;
        return result;
    }

    /// <summary>Every scoring criterion and baseline except random and the subset selectors (naee), in both directions.</summary>
    public static IEnumerable<CriterionSpec> Criteria() => Enum.GetValues<CriterionKind>()
        .Where(k => k is not CriterionKind.Random && !CriterionInfo.Needs(k).SelectsSubsets)
        .SelectMany(k => new[] { new CriterionSpec(k, DropDirection.Min), new CriterionSpec(k, DropDirection.Max) });

    /// <summary>
    /// One round on the unpruned model: <paramref name="spec"/> at <paramref name="ratio"/> from the given statistics,
    /// evaluated by <paramref name="evaluator"/>; returns the measurement and the seconds its evaluation took.
    /// </summary>
    private static (StudyMeasurement Measurement, double EvaluationSeconds) Measure(MoeForCausalLM model, ExpertLineage lineage,
        OneShotStudyRequest request, CriterionSpec spec, double ratio, int seed, CriteriaStats? stats, PrunedEvaluator evaluator)
    {
        StudyMeasurement? measured = null;
        double seconds = 0;
        var hooks = new RoundHooks
        {
            Evaluate = round =>
            {
                var clock = Stopwatch.StartNew();
                measured = evaluator.Measure(seed, round);
                seconds = clock.Elapsed.TotalSeconds;
                return null;
            },
        };
        var roundSpec = new RoundSpec
        {
            Criterion = spec,
            Selection = new SelectionRequest { Ratio = ratio },
            Calibration = new CalibrationSettings { Seed = seed, BatchSize = request.BatchSize, InputSampleRows = request.InputSampleRows },
        };
        using var round = PruneRound.Run(new RoundInput(1, model, lineage, request.ModelDir) { Statistics = stats }, roundSpec, hooks);
        return (measured!, seconds);
    }

    private static StudyReference EvaluateDense(string dir, OneShotStudyRequest request)
    {
        var set = StudyEvaluationSet.For(dir, request.EvalSequencesPerGenre, request.EvalTokensFile);
        using var dense = ModelLoader.Load(dir);
        dense.eval();
        return new StudyReference("dense baseline", dir, Perplexity.Evaluate(dense, set.Sequences, request.BatchSize).Perplexity);
    }

    private static string Summary(MoeForCausalLM model)
    {
        var c = model.Config;
        var first = model.MoeLayers[0];
        return $"{c.ModelType}: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {first.NumExperts} experts, top-{first.TopK}, vocab {c.VocabSize}";
    }
}
