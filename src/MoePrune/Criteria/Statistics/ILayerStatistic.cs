using MoePrune.Observation;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// One mergeable statistic of one MoE layer (routing counts, activation sums, an input sample, …). It is fed
/// every <see cref="RoutingEvent"/> of its layer, merges with the same statistic of another pass, and is
/// stored as named tensors plus a small JSON object of sizes (<see cref="StatisticWriter"/>). What it needs
/// from the model and how it is created and read back is its <see cref="StatisticKind"/>.
/// </summary>
public interface ILayerStatistic
{
    StatisticKind Kind { get; }

    /// <summary>Adds one routing event of this layer (tensors are only valid during the call).</summary>
    void Add(RoutingEvent e);

    /// <summary>Adds <paramref name="other"/> (the same kind, same sizes) into this statistic.</summary>
    void MergeFrom(ILayerStatistic other);

    /// <summary>A fresh, empty statistic with the same sizes.</summary>
    ILayerStatistic EmptyLike();

    /// <summary>Writes the sizes and the tensors of this statistic.</summary>
    void Write(StatisticWriter writer);
}

/// <summary>
/// A statistic that also reads each expert's gradient after <c>backward()</c>; <see cref="AddGradients"/>
/// returns false for a layer where no expert has a gradient.
/// </summary>
public interface IGradientStatistic : ILayerStatistic
{
    bool AddGradients(IMoeLayerView view);
}
