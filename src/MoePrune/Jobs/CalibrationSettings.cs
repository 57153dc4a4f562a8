using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Models;

namespace MoePrune.Jobs;

/// <summary>
/// The calibration pass a job runs: data spec (<see cref="CalibrationSpec"/>), sequence count and length, the
/// shuffle seed, batch size and the rows of each layer's input sample.
/// </summary>
public sealed record CalibrationSettings
{
    public string Spec { get; init; } = CalibrationSpec.Default;
    public int Sequences { get; init; } = CalibrationPacker.DefaultSequences;
    public int Length { get; init; } = CalibrationPacker.DefaultLength;
    public int Seed { get; init; }
    public int BatchSize { get; init; } = CalibrationPass.DefaultBatchSize;
    public int InputSampleRows { get; init; } = LayerInputSample.DefaultRows;

    /// <summary>Checks the settings that need no model; <paramref name="names"/> spells them.</summary>
    public void Check(OptionNames names)
    {
        if (BatchSize < 1) throw new MoePruneException($"{names[OptionNames.BatchSize]}: {BatchSize} must be at least 1");
        if (InputSampleRows < 1) throw new MoePruneException($"{names[OptionNames.InputSampleRows]}: {InputSampleRows} must be positive");
    }

    /// <summary>
    /// One calibration pass over <paramref name="model"/> for <paramref name="criteria"/>; text sources are tokenized
    /// with the tokenizer of <paramref name="tokenizerDir"/>. Returns the statistics and the data's description.
    /// </summary>
    public (CriteriaStats Stats, JsonObject Data, double Seconds) Collect(MoeForCausalLM model, string tokenizerDir,
        IReadOnlyList<CriterionSpec> criteria, Action<ScoringProgress>? progress = null) =>
        Pass(model, tokenizerDir, data => CalibrationPass.Collect(model, data, criteria, InputSampleRows, BatchSize, progress));

    /// <summary>The same for an explicit list of statistics (routing counts always), e.g. what a merge needs.</summary>
    public (CriteriaStats Stats, JsonObject Data, double Seconds) Collect(MoeForCausalLM model, string tokenizerDir,
        IReadOnlyList<StatisticKind> statistics, Action<ScoringProgress>? progress = null) =>
        Pass(model, tokenizerDir, data => CalibrationPass.Collect(model, data, statistics, InputSampleRows, BatchSize, progress));

    private (CriteriaStats, JsonObject, double) Pass(MoeForCausalLM model, string tokenizerDir, Func<CalibrationSet, CriteriaStats> collect)
    {
        var data = CalibrationPacker.ForModel(tokenizerDir, Spec, Sequences, Length, Seed, model.Config.VocabSize);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stats = collect(data);
        return (stats, data.ToJson(), clock.Elapsed.TotalSeconds);
    }
}
