using MoePrune.Observation;
using static TorchSharp.torch;

namespace MoePrune.Benchmarks;

/// <summary>Tokens/s of one decoder layer with no observer and with one that asks for nothing (routing only, ignored).</summary>
public static class ObserverOverhead
{
    /// <summary>An observer that wants nothing beyond the routing and does nothing with it.</summary>
    public sealed class NoOpObserver : IMoeObserver
    {
        public ObserverNeeds Needs => ObserverNeeds.Routing;
        public void OnRouting(RoutingEvent e) { }
    }

    /// <summary>(tokens/s without observers, tokens/s with a no-op observer); runs alternate to share machine noise.</summary>
    public static (double None, double NoOp) Measure(LayerShape shape, ScalarType dtype, long tokens, int rounds = 3)
    {
        var observers = new List<IMoeObserver>();
        using var layer = ForwardBenchmark.Build(shape, dtype, seed: 0, observers);
        var none = new double[rounds];
        var noOp = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            observers.Clear();
            none[r] = tokens / ForwardBenchmark.TimeForward(layer, shape, dtype, tokens, reps: 3, seed: 0, withTokenIds: false);
            observers.Add(new NoOpObserver());
            noOp[r] = tokens / ForwardBenchmark.TimeForward(layer, shape, dtype, tokens, reps: 3, seed: 0, withTokenIds: true);
        }
        return (none.Max(), noOp.Max());
    }
}
