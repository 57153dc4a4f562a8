namespace MoePrune.Layerwise;

/// <summary>How a job may run: forced layer by layer, and the memory budget (null: what this process may still allocate).</summary>
public sealed record LayerwiseSettings
{
    /// <summary>Run layer by layer even when the model would fit.</summary>
    public bool Force { get; init; }
    /// <summary>Bytes the job may use; null = <see cref="MemoryBudget.Available()"/>.</summary>
    public long? MemoryBudget { get; init; }
    /// <summary>Folder for hidden states beyond the budget (the temp folder when null).</summary>
    public string? SpillDir { get; init; }
}

/// <summary>
/// In memory or layer by layer, decided before any tensor is read: layer by layer when forced, or when the model in the
/// compute dtype plus one more decoder layer (headroom for the forward's activations) exceeds the budget. Layer by
/// layer, the budget must hold the largest part (decoder layer, embedding or output projection); the hidden states
/// stay in memory while they fit beside it, else they go to a temporary file.
/// </summary>
public sealed record ExecutionChoice(bool Layerwise, long BudgetBytes, string BudgetSource, string Reason)
{
    /// <summary>Bytes the hidden states may take in memory next to the largest part.</summary>
    public long HiddenMemoryBytes(CheckpointSizes sizes) => Math.Max(0, BudgetBytes - sizes.LargestUnit);

    /// <param name="alongside">A second checkpoint the job reads too (eval's KL reference): in memory only when both fit
    /// together; layer by layer the budget must hold the largest part of either, and both output projections at once.</param>
    /// <param name="besideModel">Bytes the in-memory path holds beside the model (a merge's merged experts).</param>
    public static ExecutionChoice Decide(LayerwiseCheckpoint checkpoint, LayerwiseSettings settings, OptionNames names, LayerwiseCheckpoint? alongside = null,
                                         long besideModel = 0)
    {
        var (budget, source) = settings.MemoryBudget is long given ? (given, names[OptionNames.MemoryBudget]) : MemoryBudget.Available();
        var all = alongside is null ? new[] { checkpoint } : [checkpoint, alongside];
        string dtype = Models.DtypeNames.ToConfigName(checkpoint.Dtype);
        long models = all.Sum(c => c.Sizes.Model);
        long inMemory = models + besideModel + all.Max(c => c.Sizes.Layers.Values.DefaultIfEmpty(0).Max());
        string reason;
        if (settings.Force) reason = $"{names[OptionNames.Layerwise]} given";
        else if (inMemory > budget)
            reason = $"{(alongside is null ? "the model needs" : "the model and its reference need")} {CheckpointSizes.Format(models)} in {dtype}"
                     + (besideModel > 0 ? $" and the job {CheckpointSizes.Format(besideModel)} more" : "")
                     + $", more than the memory budget of {CheckpointSizes.Format(budget)} ({source})";
        else
            return new ExecutionChoice(false, budget, source, alongside is null ? "the model fits in memory" : "the model and its reference fit in memory");
        foreach (var c in all)
        {
            var sizes = c.Sizes;
            if (sizes.LargestUnit > budget)
                throw new MoePruneException(settings.MemoryBudget is not null
                    ? $"{names[OptionNames.MemoryBudget]} {CheckpointSizes.Format(budget)}: smaller than the largest part of {c.Dir} ({Part(sizes)}: {CheckpointSizes.Format(sizes.LargestUnit)} in {dtype}); layer by layer needs at least that"
                    : $"{c.Dir}: its largest part ({Part(sizes)}: {CheckpointSizes.Format(sizes.LargestUnit)} in {dtype}) does not fit in the {CheckpointSizes.Format(budget)} this process may use ({source})");
        }
        if (alongside is not null && checkpoint.Sizes.Output + alongside.Sizes.Output > budget)   // at the reference's head both output projections are held
            throw new MoePruneException((settings.MemoryBudget is not null ? $"{names[OptionNames.MemoryBudget]} {CheckpointSizes.Format(budget)}: " : $"the {CheckpointSizes.Format(budget)} this process may use ({source}): ")
                + $"smaller than the two output projections the KL gate holds at once ({CheckpointSizes.Format(checkpoint.Sizes.Output + alongside.Sizes.Output)} in {dtype}, {checkpoint.Dir} and {alongside.Dir})");
        return new ExecutionChoice(true, budget, source, reason);
    }

    private static string Part(CheckpointSizes sizes)
    {
        long layer = sizes.Layers.Values.DefaultIfEmpty(0).Max();
        return layer >= sizes.LargestUnit ? $"decoder layer {sizes.LargestLayer}"
            : sizes.Embedding >= sizes.LargestUnit ? "the embedding" : "the output projection";
    }
}
