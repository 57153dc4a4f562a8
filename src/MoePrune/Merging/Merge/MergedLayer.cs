using static TorchSharp.torch;

namespace MoePrune.Merging.Merge;

/// <summary>
/// One merged expert: the original members (ascending), their coefficients α (summing to 1), the output
/// scale s (1 unless learned), its weights s·Σα·down, Σα·gate, Σα·up in the original dtype, and its router
/// row Σα·w (H).
/// </summary>
public sealed record MergedExpert(int[] Members, double[] Coefficients, double Scale, ExpertWeights Weights, Tensor RouterRow);

/// <summary>
/// A layer after merging: r experts and r router rows, slot n = group n of the canonical grouping. Owns its
/// tensors (Dispose frees them).
/// </summary>
public sealed class MergedLayer(MergeMethod method, IReadOnlyList<MergedExpert> experts, LearnedMergeReport? learned) : IDisposable
{
    public MergeMethod Method { get; } = method;
    public IReadOnlyList<MergedExpert> Experts { get; } = experts;
    /// <summary>The fit report when <see cref="Method"/> is Learned.</summary>
    public LearnedMergeReport? Learned { get; } = learned;
    public int Count => Experts.Count;

    /// <summary>A new (r, H) router weight; the caller owns it.</summary>
    public Tensor RouterWeight() => stack(Experts.Select(e => e.RouterRow).ToArray());           // (r, H)

    /// <summary>The merged layer as layer weights (the router is a new tensor; the experts are shared with this object).</summary>
    public MoeLayerWeights ToLayerWeights() => new(RouterWeight(), Experts.Select(e => e.Weights).ToArray());

    /// <summary>True after <see cref="ReleaseProjections"/>: only coefficients, scales and router rows remain.</summary>
    public bool ProjectionsReleased { get; private set; }

    /// <summary>
    /// Frees the merged experts' projections once they are kept elsewhere (a layer-by-layer merge stores them in a
    /// temporary file until the export); coefficients, scales and router rows stay.
    /// </summary>
    public void ReleaseProjections()
    {
        if (ProjectionsReleased) return;
        foreach (var e in Experts)
        {
            e.Weights.GateProj.Dispose();
            e.Weights.UpProj.Dispose();
            e.Weights.DownProj.Dispose();
        }
        ProjectionsReleased = true;
    }

    public void Dispose()
    {
        ReleaseProjections();
        foreach (var e in Experts) e.RouterRow.Dispose();
    }
}
