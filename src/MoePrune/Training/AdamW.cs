using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>One trainable tensor: its name, the live parameter and whether weight decay applies.</summary>
public sealed record TrainableParameter(string Name, Parameter Parameter, bool Decay);

/// <summary>
/// AdamW with decoupled weight decay (Loshchilov &amp; Hutter; PyTorch <c>torch.optim.AdamW</c> order):
/// p ← p − lr·wd·p, m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr · m̂ / (√v̂ + ε) with
/// m̂ = m/(1−β1^t), v̂ = v/(1−β2^t). Moments are fp32. When a parameter is not fp32 (bf16 training) an
/// fp32 master copy is updated and the parameter receives its rounded value.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<TrainableParameter> _params;
    private readonly Dictionary<string, Tensor> _m = [], _v = [], _master = [];

    public AdamW(IReadOnlyList<TrainableParameter> parameters, double beta1, double beta2, double epsilon, double weightDecay)
    {
        _params = parameters;
        (Beta1, Beta2, Epsilon, WeightDecay) = (beta1, beta2, epsilon, weightDecay);
        using var noGrad = no_grad();
        foreach (var p in parameters)
        {
            _m[p.Name] = zeros(p.Parameter.shape, ScalarType.Float32);                 // p.shape fp32
            _v[p.Name] = zeros(p.Parameter.shape, ScalarType.Float32);                 // p.shape fp32
            if (p.Parameter.dtype != ScalarType.Float32)
                _master[p.Name] = p.Parameter.detach().to(ScalarType.Float32).clone(); // p.shape fp32
        }
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }
    /// <summary>Completed updates (t in the bias corrections).</summary>
    public long StepCount { get; private set; }
    public IReadOnlyList<TrainableParameter> Parameters => _params;

    /// <summary>Applies one update with learning rate <paramref name="lr"/> from the parameters' current gradients.</summary>
    public void Step(double lr)
    {
        StepCount++;
        double c1 = 1 - Math.Pow(Beta1, StepCount), c2 = 1 - Math.Pow(Beta2, StepCount);
        using var noGrad = no_grad();
        foreach (var p in _params)
        {
            using var scope = NewDisposeScope();
            var grad = p.Parameter.grad;
            if (grad is null) continue;
            var g = grad.to(ScalarType.Float32);                                       // p.shape fp32
            var w = _master.TryGetValue(p.Name, out var master) ? master : p.Parameter; // p.shape fp32
            if (p.Decay && WeightDecay != 0) w.mul_(1 - lr * WeightDecay);
            _m[p.Name].mul_(Beta1).add_(g, alpha: 1 - Beta1);
            _v[p.Name].mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            var denom = (_v[p.Name] / c2).sqrt_().add_(Epsilon);                       // p.shape fp32
            w.addcdiv_(_m[p.Name], denom, value: -lr / c1);
            if (master is not null) p.Parameter.copy_(master);
        }
    }

    /// <summary>The optimizer state as named fp32 tensors (views of the live state; copy before mutating).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var p in _params)
        {
            yield return new($"adam.m.{p.Name}", _m[p.Name]);
            yield return new($"adam.v.{p.Name}", _v[p.Name]);
            if (_master.TryGetValue(p.Name, out var master)) yield return new($"adam.master.{p.Name}", master);
        }
    }

    /// <summary>Restores the state written by <see cref="StateTensors"/>; <paramref name="read"/> fetches a tensor by name.</summary>
    public void LoadState(long stepCount, Func<string, Tensor> read)
    {
        using var noGrad = no_grad();
        StepCount = stepCount;
        foreach (var (name, tensor) in StateTensors().ToList())
        {
            using var loaded = read(name);
            tensor.copy_(loaded);
        }
    }

    public void Dispose()
    {
        foreach (var t in _m.Values.Concat(_v.Values).Concat(_master.Values)) t.Dispose();
    }
}
