using MoePrune.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>The batched C# forward against the committed eager-PyTorch reference (make_reference.py).</summary>
public class ReferenceForwardTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new(ModelFixtures.Cases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fp32LogitsRouterLogitsAndExpertsMatchReference(string name)
    {
        using var scope = NewDisposeScope();
        using var model = ModelLoader.Load(ModelFixtures.Dir(name), ScalarType.Float32);
        var expected = ModelFixtures.Expected(name);
        using var noGrad = no_grad();
        var result = model.forward(new CausalLMInput(expected["input_ids"], OutputRouterLogits: true));

        double logitDiff = ModelFixtures.MaxRelDiff(result.Logits, expected["logits"]);
        output.WriteLine($"{name}: max |Δlogit|/max(1,|ref|) = {logitDiff:E2}");
        Assert.True(logitDiff <= 1e-4, $"logits differ by {logitDiff:E2}");

        var moeLayers = model.Config.MoeLayerIndices.ToList();
        Assert.Equal(moeLayers.Count, result.RouterLogits!.Count);
        for (int i = 0; i < moeLayers.Count; i++)
        {
            int layer = moeLayers[i];
            double routerDiff = ModelFixtures.MaxAbsDiff(result.RouterLogits[i], expected[$"router_logits.{layer}"]);
            output.WriteLine($"  layer {layer}: max |Δrouter logit| = {routerDiff:E2}");
            Assert.True(routerDiff <= 1e-5, $"layer {layer} router logits differ by {routerDiff:E2}");
            AssertSameExperts(result.RouterLogits[i], expected[$"router_probs.{layer}"], expected[$"topk.{layer}"], model.Config.TopK, layer);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bf16MeanNllWithinOnePercentOfReference(string name)
    {
        using var scope = NewDisposeScope();
        using var model = ModelLoader.Load(ModelFixtures.Dir(name), ScalarType.BFloat16);
        var expected = ModelFixtures.Expected(name);
        using var noGrad = no_grad();
        var ids = expected["input_ids"];
        var nll = CausalLMLoss.Compute(model.Logits(ids), ids);
        double mean = nll.Sum.item<float>() / nll.Count;
        double reference = expected["mean_nll"].item<float>();
        double rel = Math.Abs(mean - reference) / reference;
        output.WriteLine($"{name}: bf16 mean NLL {mean:F5}, reference (fp32) {reference:F5}, relative diff {rel:E2}");
        Assert.True(rel <= 0.01, $"bf16 mean NLL {mean} vs reference {reference}");
    }

    /// <summary>Same top-k set wherever the k-th and (k+1)-th reference probabilities differ by more than 1e-5.</summary>
    static void AssertSameExperts(Tensor routerLogits, Tensor refProbs, Tensor refTopK, int k, int layer)
    {
        var ours = routerLogits.to(ScalarType.Float32).softmax(-1).topk(k, -1).indexes;   // (N, k)
        var sortedProbs = refProbs.sort(-1, descending: true).Values;                     // (N, E)
        long n = refProbs.shape[0], e = refProbs.shape[1];
        int decided = 0;
        for (long t = 0; t < n; t++)
        {
            if (k < e && sortedProbs[t, k - 1].item<float>() - sortedProbs[t, k].item<float>() <= 1e-5) continue;
            var a = ours[t].data<long>().Order().ToArray();
            var b = refTopK[t].data<long>().Order().ToArray();
            Assert.True(a.SequenceEqual(b), $"layer {layer} token {t}: experts [{string.Join(",", a)}] vs reference [{string.Join(",", b)}]");
            decided++;
        }
        Assert.True(decided > n / 2, $"layer {layer}: only {decided} of {n} tokens had a clear top-{k}");
    }
}
