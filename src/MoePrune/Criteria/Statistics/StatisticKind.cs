using MoePrune.Observation;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// What a statistic needs from the calibration pass: what the routing events must carry
/// (<see cref="ObserverNeeds"/>) and whether expert gradients are read after <c>backward()</c>.
/// </summary>
public sealed record StatisticNeeds(ObserverNeeds Observer, bool Gradients = false);

/// <summary>Sizes a statistic is created with: the layer's shape and the pass's settings.</summary>
public sealed record StatisticContext(int LayerIndex, int NumExperts, int TopK, int HiddenSize, int VocabSize, int InputSampleRows);

/// <summary>
/// The description of one kind of layer statistic: its key (file names, messages), what it needs, whether it is
/// also kept per calibration source, how to create an empty one and how to read one back. Each statistic class
/// owns its kind as a static field; <see cref="CriterionInfo"/> says which kinds each criterion reads.
/// </summary>
/// <param name="Key">Name in the statistics file and in messages ("routing", "activations", …).</param>
/// <param name="Description">What it holds, for messages ("activation sums").</param>
/// <param name="PerSource">Also kept per calibration source (only sums are: no gradients, no samples).</param>
public sealed record StatisticKind(
    string Key,
    string Description,
    StatisticNeeds Needs,
    bool PerSource,
    Func<StatisticContext, ILayerStatistic> Create,
    Func<StatisticReader, ILayerStatistic> Read)
{
    public override string ToString() => Key;
}
