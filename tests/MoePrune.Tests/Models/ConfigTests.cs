using System.Text.Json.Nodes;
using MoePrune.Models;
using TorchSharp;
using Xunit;

namespace MoePrune.Tests.Models;

/// <summary>config.json binding, derived values, rejection of unimplemented values, and the export round trip.</summary>
public class ConfigTests
{
    static JsonObject Tiny(string family) => TinyCheckpoint.Config(family, hidden: 32, experts: 4, topK: 2, expertSize: 16, vocab: 64);

    static MoePruneException Rejects(JsonObject json) =>
        Assert.Throws<MoePruneException>(() => MoeConfig.Parse(json, "cfg.json"));

    [Fact]
    public void FamilyDefaultsAndDerivedValues()
    {
        var mixtral = Tiny("mixtral");
        mixtral.Remove("rms_norm_eps");
        mixtral.Remove("rope_theta");
        var c = MoeConfig.Parse(mixtral, "cfg.json");
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Equal(1e6, c.RopeTheta);
        Assert.True(c.NormTopKProb);                          // Mixtral always renormalises
        Assert.Equal(8, c.HeadDim);                           // 32 / 4, derived after binding
        Assert.Equal(16, c.ExpertIntermediateSize);

        var qwen3 = Tiny("qwen3_moe");
        qwen3["head_dim"] = 12;
        qwen3.Remove("norm_topk_prob");
        var q = MoeConfig.Parse(qwen3, "cfg.json");
        Assert.Equal(12, q.HeadDim);
        Assert.False(q.NormTopKProb);                         // HF class default

        qwen3.Remove("num_experts");
        qwen3["num_local_experts"] = 5;                       // v5 attribute_map spelling
        Assert.Equal(5, MoeConfig.Parse(qwen3, "cfg.json").NumExperts);

        var qwen2 = Tiny("qwen2_moe");
        qwen2["mlp_only_layers"] = new JsonArray(0);
        var d = MoeConfig.Parse(qwen2, "cfg.json");
        Assert.False(d.IsMoeLayer(0));
        Assert.True(d.IsMoeLayer(1));
        Assert.True(d.QkvBias);
        Assert.False(d.OutputBias);
        qwen2["mlp_only_layers"] = new JsonArray();
        qwen2["decoder_sparse_step"] = 2;
        Assert.Equal([1], MoeConfig.Parse(qwen2, "cfg.json").MoeLayerIndices);
    }

    [Theory]
    [InlineData("mixtral", "rope_scaling", "{\"type\":\"linear\",\"factor\":2.0}")]
    [InlineData("mixtral", "hidden_act", "\"gelu\"")]
    [InlineData("mixtral", "attention_bias", "true")]
    [InlineData("mixtral", "clip_qkv", "8.0")]
    [InlineData("qwen2_moe", "use_sliding_window", "true")]
    [InlineData("qwen3_moe", "use_sliding_window", "true")]
    [InlineData("qwen3_moe", "layer_types", "[\"sliding_attention\",\"full_attention\"]")]
    [InlineData("olmoe", "sliding_window", "4096")]
    [InlineData("olmoe", "head_dim", "16")]
    [InlineData("olmoe", "n_routed_experts", "4")]
    [InlineData("qwen3_moe", "q_lora_rank", "64")]
    [InlineData("qwen3_moe", "attention_dropout", "0.1")]
    [InlineData("olmoe", "rope_parameters", "{\"rope_type\":\"yarn\",\"rope_theta\":10000.0}")]
    [InlineData("mixtral", "torch_dtype", "\"int8\"")]
    [InlineData("mixtral", "num_experts_per_tok", "9")]
    [InlineData("mixtral", "hidden_size", "\"wide\"")]
    public void UnimplementedOrInvalidValuesAreErrorsNamingTheKey(string family, string key, string value)
    {
        var json = Tiny(family);
        json[key] = JsonNode.Parse(value);
        var e = Rejects(json);
        Assert.Contains(key, e.Message);
        Assert.StartsWith("cfg.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnknownModelTypeNamesTheSupportedOnes()
    {
        var json = Tiny("mixtral");
        json["model_type"] = "llama";
        var e = Rejects(json);
        Assert.Contains("llama", e.Message);
        foreach (var f in new[] { "mixtral", "qwen2_moe", "qwen3_moe", "olmoe" }) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void RoundTripKeepsUnknownKeysAndTheRopeForm()
    {
        var json = Tiny("qwen3_moe");
        json.Remove("rope_theta");
        json["rope_parameters"] = JsonNode.Parse("{\"rope_type\":\"default\",\"rope_theta\":123456.0}");
        json["some_future_key"] = JsonNode.Parse("{\"nested\":[1,2,{\"x\":null}]}");
        json["transformers_version"] = "4.57.0";
        var c = MoeConfig.Parse(json, "cfg.json");
        Assert.Equal(123456.0, c.RopeTheta);
        Assert.Equal(RopeForm.RopeParameters, c.RopeForm);

        var back = c.ToJson();
        Assert.True(JsonNode.DeepEquals(json, back), back.ToJsonString());
        Assert.False(back.ContainsKey("rope_theta"));

        var pruned = c.WithExperts(3).ToJson(torch.ScalarType.BFloat16);
        Assert.Equal(3, (int)pruned["num_experts"]!);
        Assert.Equal("bfloat16", (string)pruned["torch_dtype"]!);
        Assert.True(JsonNode.DeepEquals(json["some_future_key"], pruned["some_future_key"]));
        Assert.True(JsonNode.DeepEquals(json["rope_parameters"], pruned["rope_parameters"]));
        Assert.Equal(4, (int)json["num_experts"]!);            // the source object is untouched
    }

    [Fact]
    public void PerLayerExpertCountsAreValidatedAndBuilt()
    {
        var c = MoeConfig.Parse(Tiny("olmoe"), "cfg.json").WithExperts(0, [3, 2]);
        Assert.Equal(3, c.NumExperts);
        Assert.Equal(3, c.ExpertsInLayer(0));
        Assert.Equal(2, c.ExpertsInLayer(1));
        using var model = new MoeForCausalLM(c, device: new torch.Device(DeviceType.META));
        Assert.Equal([3, 2], model.MoeLayers.Select(l => l.NumExperts));
        Assert.Equal(new long[] { 2, 32 }, model.MoeLayers[1].RouterWeight.shape);

        var json = Tiny("olmoe");
        json["moeprune_experts_per_layer"] = new JsonArray(4, 1);           // below top-k
        Assert.Contains("moeprune_experts_per_layer", Rejects(json).Message);
        json["moeprune_experts_per_layer"] = new JsonArray(4);              // wrong length
        Assert.Contains("moeprune_experts_per_layer", Rejects(json).Message);
    }
}
