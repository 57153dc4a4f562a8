using MoePrune.Calibration;
using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// What <see cref="PruneJob.Run"/> does: prune <see cref="ModelDir"/> into <see cref="OutDir"/> either by a
/// criterion (scored now, or read from <see cref="ScoresFile"/>) with a <see cref="Selection"/>, or by an
/// explicit <see cref="KeepMapFile"/>.
/// </summary>
public sealed record PruneRequest
{
    public required string ModelDir { get; init; }
    public required string OutDir { get; init; }
    /// <summary>Criterion name ("min-ean", "naee", …); exactly one of it and <see cref="KeepMapFile"/>.</summary>
    public string? Criterion { get; init; }
    /// <summary>A <c>scores.json</c> of the same checkpoint to take the criterion's values from.</summary>
    public string? ScoresFile { get; init; }
    /// <summary>JSON object: decoder-layer index → kept original expert indices.</summary>
    public string? KeepMapFile { get; init; }
    public SelectionRequest Selection { get; init; } = new();
    public string Calibration { get; init; } = CalibrationSpec.Default;
    public int CalibrationSequences { get; init; } = CalibrationPacker.DefaultSequences;
    public int CalibrationLength { get; init; } = CalibrationPacker.DefaultLength;
    public int Seed { get; init; }
    /// <summary>Compute dtype of the model (and of the written checkpoint); the checkpoint's when null.</summary>
    public ScalarType? Dtype { get; init; }
    public int NaeeTokens { get; init; } = 4096;
    public int BatchSize { get; init; } = 8;
}
