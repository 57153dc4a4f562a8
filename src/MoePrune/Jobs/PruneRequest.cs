using MoePrune.Criteria;
using MoePrune.Pruning;
using static TorchSharp.torch;

namespace MoePrune.Jobs;

/// <summary>
/// What <see cref="PruneJob.Run"/> does: prune <see cref="ModelDir"/> into <see cref="OutDir"/> either by a
/// criterion (scored now, or read from <see cref="ScoresFile"/>) with a <see cref="Selection"/>, or by an
/// explicit <see cref="KeepMapFile"/>.
/// </summary>
public sealed record PruneRequest
{
    public required string ModelDir { get; init; }
    public required string OutDir { get; init; }
    /// <summary>Replace an existing non-empty <see cref="OutDir"/> (and <see cref="GgufFile"/>) at the end, atomically.</summary>
    public bool Force { get; init; }
    /// <summary>Also write this GGUF file from the pruned checkpoint (one expert count in every layer only).</summary>
    public string? GgufFile { get; init; }
    /// <summary>Criterion name ("min-ean", "naee", …); exactly one of it and <see cref="KeepMapFile"/>.</summary>
    public string? Criterion { get; init; }
    /// <summary>A <c>scores.json</c> of the same checkpoint to take the criterion's values (or naee's subsets) from.</summary>
    public string? ScoresFile { get; init; }
    /// <summary>JSON object: decoder-layer index → kept original expert indices.</summary>
    public string? KeepMapFile { get; init; }
    public SelectionRequest Selection { get; init; } = new();
    public CalibrationSettings Calibration { get; init; } = new();
    /// <summary>Drop the MTP layers instead of pruning them to the main layers' count (<see cref="RoundSpec.DropMtp"/>).</summary>
    public bool DropMtp { get; init; }
    /// <summary>Compute dtype of the model (and of the written checkpoint); the checkpoint's when null.</summary>
    public ScalarType? Dtype { get; init; }
    /// <summary>In memory or layer by layer (forced, or chosen when the model exceeds the memory budget).</summary>
    public Layerwise.LayerwiseSettings Execution { get; init; } = new();
    /// <summary>The perplexity check before/after (on by default; see <see cref="PruneCost"/>).</summary>
    public PruneEvaluation Evaluation { get; init; } = new();
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    /// <summary>The request as the one round of a prune (criterion parsed; checks that need no model done).</summary>
    public RoundSpec ToRound()
    {
        var spec = new RoundSpec
        {
            Criterion = Criterion is null ? null : CriterionSpec.Parse(Criterion, Names[OptionNames.Criterion]),
            ScoresFile = ScoresFile, KeepMapFile = KeepMapFile,
            Selection = Selection with { Names = Names }, Calibration = Calibration, DropMtp = DropMtp, Names = Names,
        };
        spec.Check();
        return spec;
    }
}
