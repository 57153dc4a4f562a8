using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// What one expert slot of a pruned layer holds: an original expert copied unchanged (<see cref="Original"/>
/// ≥ 0), or custom tensors (e.g. a merged expert) with its own router row. A replaced slot keeps the
/// original index it was derived from (−1 when none) for reports only.
/// </summary>
public sealed record ExpertSlot(int Original, ExpertTensors? Custom = null)
{
    public bool IsCustom => Custom is not null;
}

/// <summary>
/// A custom expert in Hugging Face's per-expert layout: gate/up (I, H), down (H, I) and its router row (H).
/// The tensors belong to the caller; surgery copies them (converting to the model dtype) and never disposes them.
/// </summary>
public sealed record ExpertTensors(Tensor GateProj, Tensor UpProj, Tensor DownProj, Tensor RouterRow);
