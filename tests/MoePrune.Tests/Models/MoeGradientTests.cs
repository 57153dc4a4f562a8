using MoePrune.Models;
using MoePrune.Observation;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>Backward through the batched dispatch reaches the router and exactly the experts that were chosen.</summary>
public class MoeGradientTests
{
    [Fact]
    public void BackwardFillsRouterAndChosenExpertGradients()
    {
        using var scope = NewDisposeScope();
        using var model = TinyCheckpoint.Random(TinyCheckpoint.Config("mixtral", hidden: 32, experts: 6, topK: 2, expertSize: 24), seed: 9);
        var observer = new ChosenExperts();
        model.Observers.Add(observer);
        var ids = tensor(new long[,] { { 3, 4 } });                                   // 2 tokens → at most 4 experts used
        var nll = CausalLMLoss.Compute(model.Logits(ids), ids);
        nll.Sum.backward();

        var layer = model.MoeLayers[0];
        Assert.NotNull(layer.RouterWeightGrad);
        Assert.True(layer.RouterWeightGrad!.abs().sum().item<float>() > 0);
        for (int e = 0; e < layer.NumExperts; e++)
        {
            bool used = observer.Used[0].Contains((long)e);
            var grad = layer.GateProjGrad(e);
            bool nonZero = grad is not null && grad.abs().sum().item<float>() > 0;
            Assert.Equal(used, nonZero);
        }
    }

    sealed class ChosenExperts : IMoeObserver
    {
        public List<HashSet<long>> Used { get; } = [];
        public ObserverNeeds Needs => ObserverNeeds.Routing;
        public void OnRouting(RoutingEvent e) => Used.Add(e.TopKIndices.reshape(-1).data<long>().ToHashSet());
    }
}
