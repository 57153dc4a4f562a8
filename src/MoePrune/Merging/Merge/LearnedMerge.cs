using TorchSharp;
using MoePrune.Merging.Partition;
using MoePrune.Models;
using AdamW = MoePrune.Training.AdamW;
using TrainableParameter = MoePrune.Training.TrainableParameter;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Merging.Merge;

/// <summary>Inputs and settings of the learned merge.</summary>
public sealed record LearnedMergeOptions
{
    /// <summary>(N, H) the layer's calibration inputs.</summary>
    public required Tensor Inputs { get; init; }
    /// <summary>The family's routing (top-k, renormalisation), applied to both the original and the merged router.</summary>
    public required IRoutingStrategy Routing { get; init; }
    /// <summary>Share of the inputs held out from the fit and used only for the report (the paper splits 3:1).</summary>
    public double HeldOutFraction { get; init; } = 0.25;
    /// <summary>Full-batch Adam steps on the training rows.</summary>
    public int Steps { get; init; } = 100;
    public double LearningRate { get; init; } = 0.05;
    /// <summary>Seeds the train/held-out split.</summary>
    public int Seed { get; init; }
}

/// <summary>
/// Relative reconstruction errors ‖y − y′‖² / ‖y‖² of the layer's routed output, on the training and the
/// held-out rows, for the uniform starting point and for the fitted coefficients.
/// </summary>
public sealed record LearnedMergeReport(int TrainRows, int HeldOutRows, int Steps, double LearningRate,
    double UniformTrainError, double TrainError, double UniformHeldOutError, double HeldOutError);

/// <summary>
/// Fits, per group of two or more, coefficients α = softmax(β) (so they stay positive and sum to 1) and an
/// output scale s (the merged down projection is s·Σα·down), starting from uniform (β = 0, s = 1), to
/// minimise the mean squared error between the original layer's routed output and the merged layer's on the
/// training rows: the merged router rows are Σα·w with the same α, and tokens are routed again through it.
/// Full-batch Adam (the project's <see cref="AdamW"/> without decay), fp32. Groups of one stay fixed.
/// Cost per step: one forward and backward of the merged layer on the training rows.
/// </summary>
public static class LearnedMerge
{
    public static (double[][] Alphas, double[] Scales, LearnedMergeReport Report) Fit(MoeLayerWeights layer, ExpertGrouping grouping, LearnedMergeOptions options)
    {
        int n = (int)options.Inputs.shape[0];
        int held = options.HeldOutFraction <= 0 ? 0 : Math.Max(1, (int)Math.Round(n * options.HeldOutFraction));
        if (n - held < 1)
            throw new MoePruneException($"learned merging: {n} calibration input(s) leave none to fit after holding out {held}");
        var order = Enumerable.Range(0, n).ToArray();
        new Random(options.Seed).Shuffle(order);

        using var scope = NewDisposeScope();
        using var grad = enable_grad();                                                              // a fit, whatever mode the caller runs in (a layer-by-layer pass: no_grad)
        var x = options.Inputs.detach().to(ScalarType.Float32);                                      // (N, H)
        var device = x.device;
        var xTrain = x.index_select(0, tensor(order.Skip(held).Select(i => (long)i).ToArray(), device: device)); // (N_t, H)
        var xHeld = held > 0 ? x.index_select(0, tensor(order.Take(held).Select(i => (long)i).ToArray(), device: device)) : null; // (N_h, H)
        var router = layer.Router.detach().to(ScalarType.Float32);                                   // (E, H)
        var experts = layer.Experts.Select(w => new ExpertWeights(w.GateProj.detach().to(ScalarType.Float32),
            w.UpProj.detach().to(ScalarType.Float32), w.DownProj.detach().to(ScalarType.Float32))).ToArray();

        Tensor tTrain, tHeld;
        using (no_grad())
        {
            tTrain = RoutedLayer.Output(xTrain, router, experts, options.Routing);                  // (N_t, H)
            tHeld = xHeld is null ? tTrain : RoutedLayer.Output(xHeld, router, experts, options.Routing); // (N_h, H)
        }

        var groups = grouping.Groups.Select(g => new Group(g, router, experts)).ToArray();
        var parameters = groups.Where(g => g.Beta is not null)
            .SelectMany((g, i) => new[] { new TrainableParameter($"beta.{i}", g.Beta!, false), new TrainableParameter($"scale.{i}", g.Scale!, false) })
            .ToArray();

        double Error(Tensor input, Tensor target)
        {
            using var inner = NewDisposeScope();
            using var noGrad = no_grad();
            var (r, e) = Build(groups);
            var y = RoutedLayer.Output(input, r, e, options.Routing);                                // (N, H)
            return (y - target).square().sum().ToDouble() / Math.Max(target.square().sum().ToDouble(), double.Epsilon);
        }

        double uniformTrain = Error(xTrain, tTrain), uniformHeld = xHeld is null ? double.NaN : Error(xHeld, tHeld);
        if (parameters.Length > 0)
        {
            using var adam = new AdamW(parameters, 0.9, 0.999, 1e-8, 0);
            for (int step = 0; step < options.Steps; step++)
            {
                using var inner = NewDisposeScope();
                var (r, e) = Build(groups);
                var loss = (RoutedLayer.Output(xTrain, r, e, options.Routing) - tTrain).square().mean(); // ()
                loss.backward();
                adam.Step(options.LearningRate);
                foreach (var p in parameters) p.Parameter.grad = null;
            }
        }
        var report = new LearnedMergeReport(n - held, held, options.Steps, options.LearningRate,
            uniformTrain, Error(xTrain, tTrain), uniformHeld, xHeld is null ? double.NaN : Error(xHeld, tHeld));
        var alphas = groups.Select(g => g.Alpha()).ToArray();
        var scales = groups.Select(g => g.Scale is null ? 1.0 : g.Scale.item<float>()).ToArray();
        return (alphas, scales, report);
    }

    /// <summary>The merged router (r, H) and experts for the current parameters (differentiable).</summary>
    private static (Tensor Router, ExpertWeights[] Experts) Build(Group[] groups)
    {
        var rows = new Tensor[groups.Length];
        var experts = new ExpertWeights[groups.Length];
        for (int g = 0; g < groups.Length; g++) (experts[g], rows[g]) = groups[g].Merge();
        return (stack(rows), experts);                                                               // (r, H)
    }

    private sealed class Group
    {
        private readonly ExpertWeights? _single;             // a group of one: the expert itself
        private readonly Tensor _gate, _up, _down, _rows;   // (|G|, I, H), (|G|, I, H), (|G|, H, I), (|G|, H); for one: (H) row only

        public Group(int[] members, Tensor router, ExpertWeights[] experts)
        {
            if (members.Length == 1)
            {
                _single = experts[members[0]];
                _gate = _up = _down = _rows = router[members[0]];
                return;
            }
            _gate = stack(members.Select(e => experts[e].GateProj).ToArray());
            _up = stack(members.Select(e => experts[e].UpProj).ToArray());
            _down = stack(members.Select(e => experts[e].DownProj).ToArray());
            _rows = stack(members.Select(e => router[e]).ToArray());
            Beta = new Parameter(zeros(members.Length, ScalarType.Float32, router.device));         // (|G|)
            Scale = new Parameter(ones(1, ScalarType.Float32, router.device));                      // (1)
        }

        public Parameter? Beta { get; }
        public Parameter? Scale { get; }

        public double[] Alpha()
        {
            if (Beta is null) return [1.0];
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            return Beta.softmax(0L).to(ScalarType.Float64).data<double>().ToArray();
        }

        public (ExpertWeights Expert, Tensor Row) Merge()
        {
            if (_single is not null) return (_single, _rows);
            var a = Beta!.softmax(0L);                                                               // (|G|)
            var a3 = a.view(-1, 1, 1);                                                               // (|G|, 1, 1)
            return (new ExpertWeights((a3 * _gate).sum(0L), (a3 * _up).sum(0L), (a3 * _down).sum(0L) * Scale!),
                    (a.unsqueeze(1) * _rows).sum(0L));                                               // (I, H), (I, H), (H, I); (H)
        }
    }
}
