using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Models.Families;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>
/// The family-owned seams: the router module and its tensor names, the row slice surgery uses, shared-expert
/// specs (gated and ungated), the sparse-layer rule, the sliding-window key tolerance and the expert-count hook.
/// </summary>
public class FamilySeamTests(ITestOutputHelper output)
{
    public static TheoryData<string> Families => new(TinyCheckpoint.Families);

    static JsonObject Tiny(string family) => TinyCheckpoint.Config(family, hidden: 32, experts: 6, topK: 2, expertSize: 24, vocab: 64);

    static MoeForCausalLM Meta(MoeConfig config) => new(config, device: new Device(DeviceType.META));

    [Theory]
    [MemberData(nameof(Families))]
    public void RouterTensorNamesAreTheRoutersParameters(string family)
    {
        using var model = Meta(MoeConfig.Parse(Tiny(family), "cfg.json"));
        var block = model.Model.Layers[0].Moe!;
        var names = block.Router.named_parameters().Select(p => $"{Router.ModuleName}.{p.name}").ToArray();
        Assert.Equal(model.Config.Family.RouterTensorNames, names);
        // In the model's state dict, under the family's sparse-block name.
        var prefix = $"model.layers.0.{model.Config.Family.MoeModuleName}.gate.";
        Assert.Equal(names, model.named_parameters().Select(p => p.name).Where(n => n.StartsWith(prefix))
                                  .Select(n => "gate." + n[prefix.Length..]).ToArray());
    }

    [Fact]
    public void ScoreCorrectionBiasIsRegisteredOnlyWhenTheFamilyAsks()
    {
        var withBias = Qwen3MoeFamily.Instance with { RouterScoreCorrectionBias = true };
        using var model = Meta(MoeConfigParser.Parse(Tiny("qwen3_moe"), "cfg.json", withBias));
        var router = model.Model.Layers[1].Moe!.Router;
        Assert.Equal(["gate.weight", "gate.e_score_correction_bias"], withBias.RouterTensorNames);
        Assert.Equal(withBias.RouterTensorNames, router.named_parameters().Select(p => "gate." + p.name).ToArray());
        Assert.Equal(new long[] { 6 }, router.ScoreCorrectionBias!.shape);
        Assert.False(router.ScoreCorrectionBias.requires_grad);
        using var plain = Meta(MoeConfig.Parse(Tiny("qwen3_moe"), "cfg.json"));
        Assert.Null(plain.Model.Layers[1].Moe!.Router.ScoreCorrectionBias);
    }

    [Fact]
    public void SliceRowsGathersRowsOfEveryRouterTensor()
    {
        using var scope = NewDisposeScope();
        var weight = randn(6, 5, generator: new Generator(1));                          // (E, H)
        var bias = randn(6, generator: new Generator(2));                               // (E)
        int[] originals = [4, 0, 5];
        var w = Router.SliceRows(weight, originals);                                    // (3, H)
        var b = Router.SliceRows(bias, originals);                                      // (3)
        Assert.Equal(new long[] { 3, 5 }, w.shape);
        for (int s = 0; s < originals.Length; s++)
        {
            Assert.True(w[s].equal(weight[originals[s]]).all().item<bool>());
            Assert.Equal(bias[originals[s]].item<float>(), b[s].item<float>());
        }
        w[0].fill_(0);                                                                  // a copy: the source is untouched
        Assert.NotEqual(0f, weight[4].abs().sum().item<float>());
        Assert.Throws<ArgumentOutOfRangeException>(() => Router.SliceRows(weight, [6]));
    }

    [Fact]
    public void UngatedSharedExpertIsAddedUnscaled()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var gated = Qwen2MoeFamily.Instance.SharedExpert!;
        var ungated = Qwen2MoeFamily.Instance with
        {
            SharedExpert = gated with { ModuleName = "shared_experts", GateName = null, CountKey = "shared_expert_count" },
        };
        var json = Tiny("qwen2_moe");
        json["shared_expert_count"] = 2;
        var config = MoeConfigParser.Parse(json, "cfg.json", ungated);
        Assert.Equal(2 * 48, config.SharedExpertIntermediateSize);                       // size key × count key
        using var model = new MoeForCausalLM(config);
        TinyCheckpoint.Randomize(model, seed: 7);
        var names = model.named_parameters().Select(p => p.name).Where(n => n.StartsWith("model.layers.0.mlp.shared")).ToArray();
        Assert.Equal(["model.layers.0.mlp.shared_experts.gate_proj.weight", "model.layers.0.mlp.shared_experts.up_proj.weight",
                      "model.layers.0.mlp.shared_experts.down_proj.weight"], names);

        var block = model.Model.Layers[0].Moe!;
        var x = randn(9, 32, generator: new Generator(8));                              // (N, H)
        var got = block.forward(new MoeBlockInput(x)).Hidden;                           // (N, H)
        var naive = SparseMoeBlockTests.NaiveMoe(block, x, config.NormTopKProb);       // (N, H)
        double diff = ModelFixtures.MaxAbsDiff(got, naive);
        output.WriteLine($"ungated shared expert: max |block − naive| = {diff:E2}");
        Assert.True(diff < 1e-5, $"differs by {diff:E2}");
    }

    [Fact]
    public void MoeLayerRuleDecidesWhichLayersAreSparse()
    {
        var qwen = Tiny("qwen3_moe");
        qwen["num_hidden_layers"] = 6;
        qwen["decoder_sparse_step"] = 2;
        qwen["mlp_only_layers"] = new JsonArray(3);
        // HF: sparse iff layer ∉ mlp_only_layers and (layer + 1) % decoder_sparse_step == 0.
        Assert.Equal([false, true, false, false, false, true], MoeConfig.Parse(qwen, "cfg.json").SparseLayers);

        var mixtral = Tiny("mixtral");
        mixtral["mlp_only_layers"] = new JsonArray(0);                                  // not a Mixtral key: every layer stays sparse
        Assert.All(MoeConfig.Parse(mixtral, "cfg.json").SparseLayers, Assert.True);

        qwen["mlp_only_layers"] = new JsonArray(6);
        var e = Assert.Throws<MoePruneException>(() => MoeConfig.Parse(qwen, "cfg.json"));
        Assert.Contains("mlp_only_layers", e.Message);
    }

    [Theory]
    [InlineData("qwen2_moe", true)]
    [InlineData("qwen3_moe", true)]
    [InlineData("olmoe", false)]
    [InlineData("mixtral", true)]
    public void SlidingWindowKeyIsToleratedOnlyWhereTheFamilySaysSo(string family, bool accepted)
    {
        var json = Tiny(family);
        json["sliding_window"] = 4096;
        if (accepted)
        {
            var config = MoeConfig.Parse(json, "cfg.json");
            Assert.Equal(family == "mixtral" ? 4096 : null, config.SlidingWindow);      // Qwen: accepted and ignored
        }
        else Assert.Contains("sliding_window", Assert.Throws<MoePruneException>(() => MoeConfig.Parse(json, "cfg.json")).Message);
    }

    [Fact]
    public void ExpertCountHookRefusesWithOneLine()
    {
        var evenOnly = OlmoeFamily.Instance with
        {
            ExpertCountProblem = (_, n) => n % 2 == 0 ? null : "the test family needs an even count",
        };
        var json = Tiny("olmoe");
        var config = MoeConfigParser.Parse(json, "cfg.json", evenOnly);                  // 6 experts: accepted
        Assert.Equal(4, config.WithExperts(4).NumExperts);

        var e = Assert.Throws<MoePruneException>(() => config.WithExperts(5));
        output.WriteLine(e.Message);
        Assert.StartsWith("cfg.json: 5 routed experts", e.Message);
        Assert.Contains("even count", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        e = Assert.Throws<MoePruneException>(() => config.WithExperts(0, [4, 3]));
        Assert.Contains("in layer 1", e.Message);

        Assert.Equal(5, MoeConfig.Parse(json, "cfg.json").WithExperts(5).NumExperts);    // the default hook accepts
    }
}
