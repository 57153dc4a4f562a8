using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// <c>nn.Linear</c> whose weight (out, in) and optional bias (out) are created with <c>torch.empty</c>:
/// checkpoints overwrite them, so no initialisation cost is paid.
/// </summary>
public sealed class EmptyLinear : nn.Module<Tensor, Tensor>
{
    [TorchSharp.Utils.ComponentName(Name = "weight")] private readonly Parameter _weight;
    [TorchSharp.Utils.ComponentName(Name = "bias")] private readonly Parameter? _bias;

    public EmptyLinear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device)
        : base(nameof(EmptyLinear))
    {
        _weight = new Parameter(empty(outFeatures, inFeatures, dtype, device)); // (out, in)
        _bias = hasBias ? new Parameter(empty(outFeatures, dtype, device)) : null; // (out)
        RegisterComponents();
    }

    /// <summary>(out, in) weight.</summary>
    public Parameter Weight => _weight;
    public Parameter? Bias => _bias;

    // (..., in) → (..., out)
    public override Tensor forward(Tensor x) => nn.functional.linear(x, _weight, _bias);
}
