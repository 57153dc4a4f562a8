using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Merging;

/// <summary>
/// One routed SwiGLU expert as Hugging Face stores it: gate/up (I, H), down (H, I) (Mixtral w1/w3/w2).
/// The tensors belong to whoever built the record; nothing here modifies them.
/// </summary>
public sealed record ExpertWeights(Tensor GateProj, Tensor UpProj, Tensor DownProj)
{
    public int HiddenSize => (int)GateProj.shape[1];
    public int IntermediateSize => (int)GateProj.shape[0];

    /// <summary>
    /// down(silu(gate x) · up x) for x (N, H), computed in the weights' dtype (as the model does);
    /// the result (N, H) is in that dtype.
    /// </summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xs = x.to(GateProj.dtype);                                                        // (N, H)
        var act = nn.functional.silu(nn.functional.linear(xs, GateProj))
                  * nn.functional.linear(xs, UpProj);                                         // (N, I)
        return nn.functional.linear(act, DownProj).MoveToOuterDisposeScope();                 // (N, H)
    }
}

/// <summary>
/// One sparse-MoE layer's router (E, H) and its E routed experts, the input every similarity and merge
/// method reads. A shared expert (Qwen2-MoE) is not part of it: merging never touches it, and it adds the
/// same term to the original and the merged layer's output.
/// </summary>
public sealed record MoeLayerWeights(Tensor Router, IReadOnlyList<ExpertWeights> Experts)
{
    public int NumExperts => Experts.Count;
    public int HiddenSize => (int)Router.shape[1];

    /// <summary>Views of the live parameters of <paramref name="view"/> (no copy).</summary>
    public static MoeLayerWeights FromView(IMoeLayerView view) => new(view.RouterWeight,
        Enumerable.Range(0, view.NumExperts)
            .Select(e => new ExpertWeights(view.GateProj(e), view.UpProj(e), view.DownProj(e))).ToArray());

    /// <summary>Checks shapes: router (E, H), each expert gate/up (I, H), down (H, I) with one I.</summary>
    public void Validate(string where)
    {
        if (Router.dim() != 2 || Router.shape[0] != NumExperts)
            throw new MoePruneException($"{where}: router has shape [{string.Join(", ", Router.shape)}], expected ({NumExperts}, H)");
        if (NumExperts == 0) throw new MoePruneException($"{where}: the layer has no experts");
        long h = Router.shape[1], i = Experts[0].GateProj.shape[0];
        for (int e = 0; e < NumExperts; e++)
        {
            var x = Experts[e];
            bool ok = x.GateProj.shape.SequenceEqual([i, h]) && x.UpProj.shape.SequenceEqual([i, h]) && x.DownProj.shape.SequenceEqual([h, i]);
            if (!ok)
                throw new MoePruneException($"{where}: expert {e} has gate [{string.Join(", ", x.GateProj.shape)}], up [{string.Join(", ", x.UpProj.shape)}], down [{string.Join(", ", x.DownProj.shape)}]; expected ({i}, {h}), ({i}, {h}), ({h}, {i})");
        }
    }
}
