using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;

namespace MoePrune.Studies;

/// <summary>
/// What <see cref="OneShotStudy.Run"/> measures: every criterion in both directions, the random baseline and
/// NAEE, each at every ratio, evaluated by validation perplexity of the pruned model (built in memory).
/// </summary>
public sealed record OneShotStudyRequest
{
    public required string ModelDir { get; init; }
    /// <summary>A dense baseline model evaluated on the same subset as a reference row (optional).</summary>
    public string? DenseModelDir { get; init; }
    /// <summary>Fractions of each layer's experts removed (⌊E·ratio⌋ per layer, uniform).</summary>
    public IReadOnlyList<double> Ratios { get; init; } = [0.25, 0.5];
    /// <summary>One calibration pass (all criteria at once) per seed.</summary>
    public IReadOnlyList<int> CalibrationSeeds { get; init; } = [0, 1, 2];
    public IReadOnlyList<int> RandomSeeds { get; init; } = [0, 1, 2, 3, 4];
    public string Calibration { get; init; } = CalibrationSpec.Default;
    public int CalibrationSequences { get; init; } = CalibrationPacker.DefaultSequences;
    public int CalibrationLength { get; init; } = CalibrationPacker.DefaultLength;
    /// <summary>First N sequences of each genre of the Brown validation split (see <see cref="StudyEvaluationSet"/>).</summary>
    public int EvalSequencesPerGenre { get; init; } = 2;
    /// <summary>Evaluate on this token-id file instead of the Brown validation subset (tiny models without a tokenizer).</summary>
    public string? EvalTokensFile { get; init; }
    /// <summary>Include NAEE (exhaustive subset search at each keep size).</summary>
    public bool Naee { get; init; } = true;
    /// <summary>Rows of each layer's input sample (NAEE's reconstruction error).</summary>
    public int InputSampleRows { get; init; } = LayerInputSample.DefaultRows;
    public int BatchSize { get; init; } = CalibrationPass.DefaultBatchSize;
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    /// <summary>Option checks that need no model.</summary>
    public void Check()
    {
        string ratios = Names[OptionNames.Ratios], calibSeeds = Names[OptionNames.CalibrationSeeds], randomSeeds = Names[OptionNames.RandomSeeds];
        if (Ratios.Count == 0) throw new MoePruneException($"{ratios}: no ratio given");
        foreach (var r in Ratios)
            if (!(r > 0 && r < 1)) throw new MoePruneException($"{ratios}: {r} must be in (0, 1)");
        if (Ratios.Distinct().Count() != Ratios.Count) throw new MoePruneException($"{ratios}: a ratio is given twice");
        if (CalibrationSeeds.Count == 0) throw new MoePruneException($"{calibSeeds}: no seed given");
        if (CalibrationSeeds.Distinct().Count() != CalibrationSeeds.Count) throw new MoePruneException($"{calibSeeds}: a seed is given twice");
        if (RandomSeeds.Count == 0) throw new MoePruneException($"{randomSeeds}: no seed given");
        if (RandomSeeds.Distinct().Count() != RandomSeeds.Count) throw new MoePruneException($"{randomSeeds}: a seed is given twice");
        if (EvalSequencesPerGenre < 1) throw new MoePruneException($"{Names[OptionNames.EvalSequences]}: {EvalSequencesPerGenre} must be at least 1");
        if (BatchSize < 1) throw new MoePruneException($"{Names[OptionNames.BatchSize]}: {BatchSize} must be at least 1");
        if (InputSampleRows < 1) throw new MoePruneException($"{Names[OptionNames.InputSampleRows]}: {InputSampleRows} must be positive");
    }
}
