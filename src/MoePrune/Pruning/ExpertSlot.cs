using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// What one expert slot of a pruned layer holds: an original expert copied unchanged (<see cref="Custom"/> null,
/// <see cref="Original"/> its index ≥ 0), or custom tensors (e.g. a merged expert) with its own router row. A custom
/// slot records the original it was derived from, or <see cref="NoOriginal"/> (−1) when there is none (a merge of
/// several experts); surgery never reads an original for a custom slot's expert or router row.
/// </summary>
public sealed record ExpertSlot
{
    /// <summary>The <see cref="Original"/> of a custom slot that derives from no single original expert.</summary>
    public const int NoOriginal = -1;

    public ExpertSlot(int original, ExpertTensors? custom = null)
    {
        if (original < 0 && (custom is null || original != NoOriginal))
            throw new ArgumentOutOfRangeException(nameof(original), original, "only a custom slot may have no original expert (−1)");
        Original = original;
        Custom = custom;
    }

    public int Original { get; }
    public ExpertTensors? Custom { get; }
    public bool IsCustom => Custom is not null;
}

/// <summary>
/// A custom expert in Hugging Face's per-expert layout: gate/up (I, H), down (H, I), its router row (H) and, for routers
/// with a score-correction bias (DeepSeek-V3 / GLM), optionally its bias entry (a scalar; null = the entry of the original
/// the slot derives from). The tensors belong to the caller; surgery copies them (converting to the stored dtype) and
/// never disposes them. The projections may be stored elsewhere until the export writes them (<see cref="PlannedTensor"/>).
/// </summary>
public sealed record ExpertTensors(PlannedTensor GateProj, PlannedTensor UpProj, PlannedTensor DownProj, Tensor RouterRow, Tensor? ScoreCorrectionBias = null);
