using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary><c>nn.Embedding</c> with a <c>torch.empty</c> weight (V, H): a row lookup, no initialisation cost.</summary>
public sealed class EmptyEmbedding : nn.Module<Tensor, Tensor>
{
    [TorchSharp.Utils.ComponentName(Name = "weight")] private readonly Parameter _weight;

    public EmptyEmbedding(long vocab, long hidden, ScalarType dtype, Device device) : base(nameof(EmptyEmbedding))
    {
        _weight = new Parameter(empty(vocab, hidden, dtype, device)); // (V, H)
        RegisterComponents();
    }

    public Parameter Weight => _weight;

    // (B, T) int64 → (B, T, H)
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var rows = _weight.index_select(0, ids.reshape(-1));            // (B·T, H)
        return rows.view(ids.shape[0], ids.shape[1], -1).MoveToOuterDisposeScope();
    }
}
