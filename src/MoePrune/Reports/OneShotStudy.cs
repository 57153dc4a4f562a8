using System.Diagnostics;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Reports;

/// <summary>
/// The one-shot dropping study (the paper's Fig. 4 / Table 2 one-shot columns) on one model. Per calibration
/// seed ONE calibration pass collects the statistics of every criterion (gradients included) and NAEE's inputs;
/// both directions of each criterion are scored from those same statistics. Every (criterion, direction, ratio)
/// is selected uniformly per layer (<see cref="ExpertSelection"/>), built in memory (<see cref="ExpertSurgery.Apply"/>)
/// and evaluated by perplexity on <see cref="StudyEvaluationSet"/>; identical selections are evaluated once.
/// The random baseline runs over its own seeds. Weight criteria read no data, so their seeds agree (sd 0).
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

        var evaluator = new PrunedEvaluator(model, evaluation.Sequences, request.BatchSize);
        var rows = Criteria().ToDictionary(s => s.Name, s => new StudyRow
        {
            Name = s.Name, Group = CriterionInfo.Group(s.Kind).ToString().ToLowerInvariant(), SeedKind = "calibration",
        });
        var naeeRow = new StudyRow { Name = "naee", Group = "baseline", SeedKind = "calibration" };
        var collect = ScoringJob.AllScores.Concat(request.Naee ? [CriterionSpec.Parse("naee")] : []).ToList();
        foreach (int seed in request.CalibrationSeeds)
        {
            var data = CalibrationPacker.ForModel(request.ModelDir, request.Calibration, request.CalibrationSequences,
                                                  request.CalibrationLength, seed, model.Config.VocabSize);
            clock.Restart();
            var stats = ScoringJob.Collect(model, data, collect, request.NaeeTokens, request.BatchSize);
            result.PassSeconds.Add(clock.Elapsed.TotalSeconds);
            result.CalibrationTokens = data.Tokens;
            result.CalibrationDescription = data.Describe();
            log?.Invoke($"calibration seed {seed}: pass over {data.Tokens} tokens in {result.PassSeconds[^1]:F1} s");
            foreach (var spec in Criteria())
            {
                var scores = CriteriaScorer.Score(spec, NeedsStats(spec) ? stats : null, model.MoeLayers, seed);
                foreach (double ratio in request.Ratios)
                    rows[spec.Name].Add(ratio, evaluator.Measure(seed, ExpertSelection.Select(scores, new SelectionRequest { Ratio = ratio })));
            }
            if (request.Naee) MeasureNaee(model, stats, request, seed, naeeRow, evaluator, result);
            log?.Invoke($"calibration seed {seed}: {evaluator.Evaluations} pruned models evaluated so far ({evaluator.Seconds / Math.Max(1, evaluator.Evaluations):F1} s each)");
        }
        var random = new StudyRow { Name = "random", Group = "baseline", SeedKind = "random" };
        foreach (int seed in request.RandomSeeds)
        {
            var scores = CriteriaScorer.Score(CriterionSpec.Parse("random"), null, model.MoeLayers, seed);
            foreach (double ratio in request.Ratios)
                random.Add(ratio, evaluator.Measure(seed, ExpertSelection.Select(scores, new SelectionRequest { Ratio = ratio })));
        }
        result.Rows.AddRange(rows.Values);
        result.Rows.Add(random);
        if (request.Naee) result.Rows.Add(naeeRow);
        result.Evaluations = evaluator.Evaluations;
        result.Measurements = evaluator.Measurements;
        result.PrunedEvaluationSeconds = evaluator.Seconds;
        result.TotalSeconds = total.Elapsed.TotalSeconds;
        return result;
    }

    /// <summary>Every scoring criterion and baseline except random and NAEE, in both directions.</summary>
    public static IEnumerable<CriterionSpec> Criteria() => Enum.GetValues<CriterionKind>()
        .Where(k => k is not CriterionKind.Random and not CriterionKind.Naee)
        .SelectMany(k => new[] { new CriterionSpec(k, DropDirection.Min), new CriterionSpec(k, DropDirection.Max) });

    private static void MeasureNaee(MoeForCausalLM model, CriteriaStats stats, OneShotStudyRequest request, int seed,
        StudyRow row, PrunedEvaluator evaluator, OneShotStudyResult result)
    {
        var counts = model.MoeLayers.ToDictionary(v => v.LayerIndex, v => v.NumExperts);
        foreach (double ratio in request.Ratios)
        {
            var first = model.MoeLayers[0];
            int keep = first.NumExperts - new SelectionRequest { Ratio = ratio }.DropsFor(first.NumExperts);
            var clock = Stopwatch.StartNew();
            var search = NaeeSearch.Search(model.MoeLayers, stats, keep, NaeeMode.Exhaustive);
            result.NaeeSeconds.Add(clock.Elapsed.TotalSeconds);
            row.Add(ratio, evaluator.Measure(seed, ExpertSelection.FromNaee(search, counts)));
        }
    }

    private static StudyReference EvaluateDense(string dir, OneShotStudyRequest request)
    {
        var set = StudyEvaluationSet.For(dir, request.EvalSequencesPerGenre, request.EvalTokensFile);
        using var dense = ModelLoader.Load(dir);
        dense.eval();
        return new StudyReference("dense baseline", dir, Perplexity.Evaluate(dense, set.Sequences, request.BatchSize).Perplexity);
    }

    private static bool NeedsStats(CriterionSpec spec) => ScoringJob.NeedsCalibration([spec]);

    private static string Summary(MoeForCausalLM model)
    {
        var c = model.Config;
        var first = model.MoeLayers[0];
        return $"{c.ModelType}: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {first.NumExperts} experts, top-{first.TopK}, vocab {c.VocabSize}";
    }
}
