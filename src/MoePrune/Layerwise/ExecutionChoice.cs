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

    public static ExecutionChoice Decide(LayerwiseCheckpoint checkpoint, LayerwiseSettings settings, OptionNames names)
    {
        var (budget, source) = settings.MemoryBudget is long given ? (given, names[OptionNames.MemoryBudget]) : MemoryBudget.Available();
        var sizes = checkpoint.Sizes;
        string dtype = Models.DtypeNames.ToConfigName(checkpoint.Dtype);
        long inMemory = sizes.Model + sizes.Layers.Values.DefaultIfEmpty(0).Max();
        string reason;
        if (settings.Force) reason = $"{names[OptionNames.Layerwise]} given";
        else if (inMemory > budget)
            reason = $"the model needs {CheckpointSizes.Format(sizes.Model)} in {dtype}, more than the memory budget of {CheckpointSizes.Format(budget)} ({source})";
        else
            return new ExecutionChoice(false, budget, source, "the model fits in memory");
        if (sizes.LargestUnit > budget)
            throw new MoePruneException(settings.MemoryBudget is not null
                ? $"{names[OptionNames.MemoryBudget]} {CheckpointSizes.Format(budget)}: smaller than the largest part of {checkpoint.Dir} ({Part(sizes)}: {CheckpointSizes.Format(sizes.LargestUnit)} in {dtype}); layer by layer needs at least that"
                : $"{checkpoint.Dir}: its largest part ({Part(sizes)}: {CheckpointSizes.Format(sizes.LargestUnit)} in {dtype}) does not fit in the {CheckpointSizes.Format(budget)} this process may use ({source})");
        return new ExecutionChoice(true, budget, source, reason);
    }

    private static string Part(CheckpointSizes sizes)
    {
        long layer = sizes.Layers.Values.DefaultIfEmpty(0).Max();
        return layer >= sizes.LargestUnit ? $"decoder layer {sizes.LargestLayer}"
            : sizes.Embedding >= sizes.LargestUnit ? "the embedding" : "the output projection";
    }
}
