using MoePrune.Models;
using MoePrune.Observation;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>Backward through the batched dispatch reaches the router and exactly the experts that were chosen.</summary>
public class MoeGradientTests
{
    [Theory]
    [InlineData("mixtral")]
    [InlineData("deepseek_v2")]
    [InlineData("deepseek_v3")]
    [InlineData("glm4_moe")]
    public void BackwardFillsRouterAndChosenExpertGradients(string family)
    {
        using var scope = NewDisposeScope();
        using var model = TinyCheckpoint.Random(TinyCheckpoint.Config(family, hidden: 32, experts: 6, topK: 2, expertSize: 24), seed: 9);
        var observer = new ChosenExperts();
        model.Observers.Add(observer);
        var ids = tensor(new long[,] { { 3, 4 } });                                   // 2 tokens → at most 4 experts used
        var logits = model.Logits(ids);                                               // (1, 2, V)
        (logits * logits).sum().backward();                                           // every position counts (the next-token loss ignores the last)

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
