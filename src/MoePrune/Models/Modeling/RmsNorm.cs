using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// RMSNorm as in transformers (LlamaRMSNorm / OlmoeRMSNorm): statistics in fp32, cast back to the input
/// dtype, then scaled by the weight.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    [TorchSharp.Utils.ComponentName(Name = "weight")] private readonly Parameter _weight;
    private readonly double _eps;

    public RmsNorm(long size, double eps, ScalarType dtype, Device device) : base(nameof(RmsNorm))
    {
        _weight = new Parameter(empty(size, dtype, device)); // (size)
        _eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => _weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // python: variance = hidden_states.float().pow(2).mean(-1, keepdim=True)
        var x32 = x.to(ScalarType.Float32);                              // (..., size) fp32
        var variance = x32.pow(Scalars.Of(2)).mean([-1L], keepdim: true); // (..., 1) fp32
        var normed = (x32 * rsqrt(variance + Scalars.Of(_eps))).to(x.dtype); // (..., size) input dtype
        return (_weight * normed).MoveToOuterDisposeScope();            // (..., size)
    }
}
