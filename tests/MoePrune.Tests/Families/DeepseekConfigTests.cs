using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Models.Families;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Families;

/// <summary>
/// Config binding of the DeepSeek-V2 / V3 / Kimi-K2 / GLM-4.5 families: the readings chosen where transformers and
/// DeepSeek's code differ, and every combination refused by name (docs/DESIGN-deepseek.md, "Disagreements").
/// </summary>
public class DeepseekConfigTests(ITestOutputHelper output)
{
    const string V2 = "deepseek_v2_group_limited_bias_bf16", V2Lite = "deepseek_v2_lite_yarn_fp32", V3 = "deepseek_v3_yarn_groups_fp32",
                 Glm = "glm4_moe_qknorm_groups_fp32", GlmAir = "glm4_moe_air_rope_parameters_bf16", V3Mtp = "deepseek_v3_mtp_fp32";

    static JsonObject Config(string fixture) =>
        JsonFile.ReadObject(Path.Combine(DeepseekFixtures.Dir(fixture), CheckpointDirectory.ConfigFile));

    [Theory]
    [InlineData(V2, "norm_topk_prob", "true", "norm_topk_prob = true is not supported (transformers' DeepSeek-V2 ignores it while DeepSeek's code renormalises)")]
    [InlineData(V2, "n_shared_experts", "null", "n_shared_experts = null is not supported (transformers' DeepSeek-V2 always builds shared_experts)")]
    [InlineData(V2, "mlp_bias", "true", "mlp_bias = true is not supported")]
    [InlineData(V2, "num_nextn_predict_layers", "1", "DeepSeek-V2 has no MTP layers")]
    [InlineData(V2, "topk_method", "\"noaux_tc\"", "topk_method = \"noaux_tc\" is not supported")]
    [InlineData(V2, "scoring_func", "\"sigmoid\"", "scoring_func = \"sigmoid\" is not supported")]
    [InlineData(V3, "scoring_func", "\"softmax\"", "scoring_func = \"softmax\" is not supported (DeepSeek-V3 scores experts with sigmoid)")]
    [InlineData(V3, "topk_method", "\"greedy\"", "topk_method = \"greedy\" is not supported (DeepSeek-V3 always routes with noaux_tc)")]
    [InlineData(V3, "num_key_value_heads", "2", "num_key_value_heads = 2 is not supported (MLA builds keys and values for every head")]
    [InlineData(V3, "moe_layer_freq", "2", "moe_layer_freq = 2 is not supported (transformers ignores it while DeepSeek's code puts MoE only on every k-th layer)")]
    [InlineData(V3, "rope_scaling", """{"type":"linear","factor":2.0}""", "type = \"linear\" is not supported (only default and yarn RoPE are implemented)")]
    [InlineData(V3, "max_position_embeddings", "4096", "max_position_embeddings / original_max_position_embeddings = 4096 / 4096 differs from it")]
    [InlineData(V3, "n_routed_experts", "18", "18 routed experts per layer are not possible for deepseek_v3: n_group = 4 must divide the expert count")]
    [InlineData(V3, "n_group", "16", "each of the n_group = 16 groups would hold 1 expert(s); the group score needs at least 2")]
    [InlineData(V3, "num_experts_per_tok", "9", "topk_group = 2 groups of 4 hold fewer than num_experts_per_tok = 9 candidates")]
    [InlineData(V3, "quantization_config", """{"quant_method":"gptq","bits":4}""", "quantization_config.quant_method \"gptq\" is not supported")]
    [InlineData(V3Mtp, "moeprune_experts_per_layer", "[0, 8]", "cannot be combined with num_nextn_predict_layers = 1")]
    [InlineData(Glm, "q_lora_rank", "16", "q_lora_rank = 16 is not supported (DeepSeek-style keys are not implemented for glm4_moe)")]
    [InlineData(Glm, "rope_scaling", """{"type":"yarn","factor":4.0}""", "rope_scaling = {\"type\":\"yarn\",\"factor\":4.0} is not supported (only default RoPE is implemented)")]
    [InlineData(Glm, "partial_rotary_factor", "0.1", "RoPE would rotate 1 of 16 features per head")]
    public void CombinationsTheImplementationsDisagreeOnAreRefusedByName(string fixture, string key, string json, string message)
    {
        var config = Config(fixture);
        config[key] = JsonNode.Parse(json);
        var e = Assert.Throws<MoePruneException>(() => MoeConfig.Parse(config, "config.json"));
        output.WriteLine(e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void YarnTruncateFalseIsRefused()
    {
        var config = Config(V3);
        config["rope_scaling"]!["truncate"] = false;
        Assert.Contains("truncate = false is not supported", Assert.Throws<MoePruneException>(() => MoeConfig.Parse(config, "c.json")).Message);
    }

    [Fact]
    public void ReadingsOfEachFamily()
    {
        var v2 = MoeConfig.Parse(Config(V2), "v2.json");
        Assert.Equal(GroupScoring.Max, v2.Groups.Scoring);                               // group_limited_greedy
        Assert.Equal(RopeLayout.Interleaved, v2.Mla!.RopeLayout);                        // complex pairs
        Assert.Equal(24, v2.Mla.QLoraRank);

        var lite = MoeConfig.Parse(Config(V2Lite), "lite.json");
        Assert.Null(lite.Mla!.QLoraRank);                                                // q_lora_rank: null → q_proj
        Assert.Equal(GroupScoring.None, lite.Groups.Scoring);                            // greedy
        Assert.Equal(2 * lite.ExpertIntermediateSize, lite.SharedExpertIntermediateSize);
        Assert.Equal(Math.Pow(0.1 * 0.707 * Math.Log(40) + 1, 2), lite.Yarn!.SoftmaxScaleFactor, 12);
        Assert.Equal(1.0, lite.Yarn.CosSinFactor, 12);                                   // mscale = mscale_all_dim

        var v3 = MoeConfig.Parse(Config(V3), "v3.json");
        Assert.Equal((4, 2, GroupScoring.TopTwoSum, 2.5), (v3.Groups.NGroup, v3.Groups.TopKGroup, v3.Groups.Scoring, v3.Groups.RoutedScalingFactor));
        Assert.Equal(new[] { false, true, true }, v3.SparseLayers);                      // first_k_dense_replace 1
        Assert.Equal((0.1 * Math.Log(40) + 1) / (0.1 * 0.8 * Math.Log(40) + 1), v3.Yarn!.CosSinFactor, 12);

        var kimi = MoeConfig.Parse(Config("kimi_k2_bf16"), "kimi.json");
        Assert.Equal("kimi_k2", kimi.ModelType);
        Assert.True(kimi.Family.RouterScoreCorrectionBias);
        Assert.True(kimi.Source.ContainsKey("auto_map"));                                // kept for the export

        var glm = MoeConfig.Parse(Config(Glm), "glm.json");
        Assert.Equal(QkNormPlacement.PerHead, glm.QkNorm);
        Assert.Equal(8, glm.RotaryDim);                                                  // head_dim 16 × 0.5
        Assert.True(glm.QkvBias);
        Assert.False(glm.OutputBias);
        var air = MoeConfig.Parse(Config(GlmAir), "air.json");
        Assert.Equal(QkNormPlacement.None, air.QkNorm);                  // use_qk_norm false
        Assert.Equal(RopeForm.RopeParameters, air.RopeForm);
        Assert.Equal(8, air.RotaryDim);                                                  // partial_rotary_factor inside rope_parameters
        Assert.Equal(1, air.NumMtpLayers);
    }

    [Fact]
    public void InfoReportsMlaRoutingMtpAndFp8()
    {
        var info = ModelInfo.Read(DeepseekFixtures.Dir("deepseek_v3_fp8_mtp"));
        foreach (var (label, text) in info.Details) output.WriteLine($"{label,-10} {text}");
        var d = info.DetailsJson;
        Assert.Equal("mla", (string)d["attention"]!["kind"]!);
        Assert.Equal(24, (int)d["attention"]!["q_lora_rank"]!);
        Assert.Equal("yarn", (string)d["rope"]!["type"]!);
        Assert.True((bool)d["routing"]!["group_limited"]!);
        Assert.Equal(72, (int)d["fp8"]!["weights"]!);
        using var model = ModelLoader.Load(DeepseekFixtures.Dir("deepseek_v3_fp8_mtp"));
        Assert.Equal(model.CountMtpParameters(), (long)d["mtp"]!["parameters"]!);
        Assert.Equal(model.CountParameters().Total, info.TotalParameters);
        Assert.Equal(2, ModelInfo.Read(DeepseekFixtures.Dir(V2Lite)).SharedExperts);       // n_shared_experts
        Assert.False(ModelInfo.Read(ModelFixtures.Dir("mixtral_fp32")).DetailsJson.Count > 0); // the other families: no extra lines
    }

    [Fact]
    public void ExportedConfigKeepsEveryKeyButTheCounts()
    {
        var source = Config(V3Mtp);
        var config = MoeConfig.Parse(source, "c.json");
        var pruned = config.WithExperts(6).ToJson();
        Assert.Equal(6, (int)pruned["n_routed_experts"]!);
        pruned["n_routed_experts"] = source["n_routed_experts"]!.DeepClone();
        Assert.True(JsonNode.DeepEquals(source, pruned));
        var dropped = config.WithoutMtpLayers().ToJson();
        Assert.Equal(0, (int)dropped["num_nextn_predict_layers"]!);
        dropped["num_nextn_predict_layers"] = 1;
        Assert.True(JsonNode.DeepEquals(source, dropped));
    }
}
