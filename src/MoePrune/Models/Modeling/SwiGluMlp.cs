using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// The SwiGLU MLP of every family: down(silu(gate(x)) · up(x)). Used for routed experts, the Qwen2-MoE
/// shared expert and dense layers. Child names come from the family (<c>w1/w3/w2</c> for Mixtral experts,
/// <c>gate_proj/up_proj/down_proj</c> otherwise), so state-dict keys equal the on-disk names.
/// </summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    private readonly EmptyLinear _gate, _up, _down;

    public SwiGluMlp(int hidden, int intermediate, (string Gate, string Up, string Down) names, ScalarType dtype, Device device)
        : base(nameof(SwiGluMlp))
    {
        Intermediate = intermediate;
        _gate = new EmptyLinear(hidden, intermediate, false, dtype, device);
        _up = new EmptyLinear(hidden, intermediate, false, dtype, device);
        _down = new EmptyLinear(intermediate, hidden, false, dtype, device);
        register_module(names.Gate, _gate);
        register_module(names.Up, _up);
        register_module(names.Down, _down);
    }

    public int Intermediate { get; }
    /// <summary>(I, H)</summary>
    public EmptyLinear GateProj => _gate;
    /// <summary>(I, H)</summary>
    public EmptyLinear UpProj => _up;
    /// <summary>(H, I)</summary>
    public EmptyLinear DownProj => _down;

    // (N, H) → (N, H)
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return _down.forward(Activation(x)).MoveToOuterDisposeScope();  // (N, H)
    }

    /// <summary>silu(gate(x)) · up(x): (N, H) → (N, I).</summary>
    public Tensor Activation(Tensor x)
    {
        using var scope = NewDisposeScope();
        var act = nn.functional.silu(_gate.forward(x)) * _up.forward(x);   // (N, I)
        return act.MoveToOuterDisposeScope();
    }
}
