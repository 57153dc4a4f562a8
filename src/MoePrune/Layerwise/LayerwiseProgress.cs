namespace MoePrune.Layerwise;

/// <summary>Where a layer-by-layer run is.</summary>
public enum LayerwiseStage
{
    /// <summary>A part (embedding, decoder layer, final norm and output projection) was read from the checkpoint.</summary>
    Loaded,
    /// <summary>One batch went through the current part.</summary>
    Batch,
    /// <summary>Every batch went through the current part; it was freed.</summary>
    Done,
}

/// <summary>
/// Progress of a layer-by-layer run: the stage, the part (<see cref="Part"/>: "embedding", "layer", "head"), decoder
/// layer <see cref="Layer"/> of <see cref="Layers"/> (0-based; −1 outside the layers), batch <see cref="Batch"/> of
/// <see cref="Batches"/> done, the checkpoint bytes read so far and the seconds those reads took, and the seconds
/// since the run started.
/// </summary>
public sealed record LayerwiseProgress(LayerwiseStage Stage, string Part, int Layer, int Layers, int Batch, int Batches,
                                       long BytesRead, double ReadSeconds, double Seconds)
{
    /// <summary>Read throughput so far, MB/s (10⁶ bytes).</summary>
    public double ReadMegabytesPerSecond => ReadSeconds > 0 ? BytesRead / 1e6 / ReadSeconds : 0;
}

/// <summary>What a layer-by-layer run did: why it ran layer by layer, what it read and how fast, and where its hidden states lived.</summary>
public sealed record LayerwiseSummary(string Reason, long BudgetBytes, long LargestUnitBytes, long HiddenBytes, bool Spilled,
                                      long BytesRead, double ReadSeconds, double? DiskMegabytesPerSecond)
{
    public double ReadMegabytesPerSecond => ReadSeconds > 0 ? BytesRead / 1e6 / ReadSeconds : 0;
}
