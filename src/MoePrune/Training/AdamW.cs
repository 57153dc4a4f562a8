using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>One trainable tensor: its name, the live parameter and whether weight decay applies.</summary>
public sealed record TrainableParameter(string Name, Parameter Parameter, bool Decay);

/// <summary>
/// AdamW with decoupled weight decay (Loshchilov &amp; Hutter; PyTorch <c>torch.optim.AdamW</c> order):
/// p ← p − lr·wd·p, m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr · m̂ / (√v̂ + ε) with
/// m̂ = m/(1−β1^t), v̂ = v/(1−β2^t). As in PyTorch, a parameter without a gradient in a step (an expert no token
/// reached) is skipped entirely, and t counts the steps in which that parameter was updated. Moments are fp32.
/// When a parameter is not fp32 (bf16 training) an fp32 master copy is updated and the parameter receives its
/// rounded value.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<TrainableParameter> _params;
    private readonly Dictionary<string, Tensor> _m = [], _v = [], _master = [];
    private readonly Dictionary<string, long> _t = [];

    public AdamW(IReadOnlyList<TrainableParameter> parameters, double beta1, double beta2, double epsilon, double weightDecay)
    {
        _params = parameters;
        (Beta1, Beta2, Epsilon, WeightDecay) = (beta1, beta2, epsilon, weightDecay);
        using var noGrad = no_grad();
        foreach (var p in parameters)
        {
            _m[p.Name] = zeros(p.Parameter.shape, ScalarType.Float32);                 // p.shape fp32
            _v[p.Name] = zeros(p.Parameter.shape, ScalarType.Float32);                 // p.shape fp32
            _t[p.Name] = 0;
            if (p.Parameter.dtype != ScalarType.Float32)
                _master[p.Name] = p.Parameter.detach().to(ScalarType.Float32).clone(); // p.shape fp32
        }
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }
    /// <summary>Completed <see cref="Step"/> calls.</summary>
    public long StepCount { get; private set; }
    /// <summary>Per parameter, the updates it received (t in its bias corrections).</summary>
    public IReadOnlyDictionary<string, long> ParameterSteps => _t;
    public IReadOnlyList<TrainableParameter> Parameters => _params;

    /// <summary>Applies one update with learning rate <paramref name="lr"/> from the parameters' current gradients.</summary>
    public void Step(double lr)
    {
        StepCount++;
        using var noGrad = no_grad();
        // Explicit Scalars, disposed at the end: TorchSharp's implicit ones are left to the finalizer, which can free
        // one while libtorch still reads it (dotnet/TorchSharp#1434).
        using var beta1 = Beta1.ToScalar();
        using var beta2 = Beta2.ToScalar();
        using var gradShare = (1 - Beta1).ToScalar();
        using var squareShare = (1 - Beta2).ToScalar();
        using var epsilon = Epsilon.ToScalar();
        using var decay = (1 - lr * WeightDecay).ToScalar();
        foreach (var p in _params)
        {
            using var scope = NewDisposeScope();
            var grad = p.Parameter.grad;
            if (grad is null) continue;
            long t = ++_t[p.Name];
            using var correction2 = (1 - Math.Pow(Beta2, t)).ToScalar();
            using var stepSize = (-lr / (1 - Math.Pow(Beta1, t))).ToScalar();
            var g = grad.to(ScalarType.Float32);                                       // p.shape fp32
            var w = _master.TryGetValue(p.Name, out var master) ? master : p.Parameter; // p.shape fp32
            if (p.Decay && WeightDecay != 0) w.mul_(decay);
            _m[p.Name].mul_(beta1).add_(g, alpha: gradShare);
            _v[p.Name].mul_(beta2).addcmul_(g, g, value: squareShare);
            var denom = _v[p.Name].div(correction2).sqrt_().add_(epsilon);            // p.shape fp32
            w.addcdiv_(_m[p.Name], denom, value: stepSize);
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

    /// <summary>
    /// Restores the state written by <see cref="StateTensors"/>; <paramref name="read"/> fetches a tensor by name.
    /// Parameters missing from <paramref name="parameterSteps"/> take <paramref name="stepCount"/> updates.
    /// </summary>
    public void LoadState(long stepCount, Func<string, Tensor> read, IReadOnlyDictionary<string, long>? parameterSteps = null)
    {
        using var noGrad = no_grad();
        StepCount = stepCount;
        foreach (var p in _params)
            _t[p.Name] = parameterSteps is not null && parameterSteps.TryGetValue(p.Name, out var t) ? t : stepCount;
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
