using System.Text.Json.Nodes;
using MoePrune.Quantization.Fp8;
using Xunit;

namespace MoePrune.Tests.Quantization;

public class Fp8QuantizationConfigTests
{
    static string RealConfig(string name) =>
        Path.Combine(AppContext.BaseDirectory, "fixtures", "models", "real_configs", name + ".json");

    [Theory]
    [InlineData("DeepSeek-V3")]
    [InlineData("Kimi-K2-Instruct")]
    public void ReadsThePublishedBlockFp8Configs(string name)
    {
        var config = JsonNode.Parse(File.ReadAllText(RealConfig(name)))!.AsObject();
        Assert.Equal(new Fp8QuantizationConfig(128, 128, Fp8ScaleFormat.Float32),
                     Fp8QuantizationConfig.Parse(config["quantization_config"], name));
    }

    [Fact]
    public void AbsentOrNullMeansNotQuantized()
    {
        var config = JsonNode.Parse(File.ReadAllText(RealConfig("GLM-4.5-Air")))!.AsObject();
        Assert.Null(Fp8QuantizationConfig.Parse(config["quantization_config"], "GLM-4.5-Air"));
        Assert.Null(Fp8QuantizationConfig.Parse(null, "x"));
    }

    [Fact]
    public void Ue8m0ScalesArePowersOfTwo()
    {
        var q = JsonNode.Parse("""{"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "scale_fmt": "ue8m0", "weight_block_size": [128, 128]}""");
        Assert.Equal(Fp8ScaleFormat.PowerOfTwo, Fp8QuantizationConfig.Parse(q, "c.json")!.ScaleFormat);
    }

    [Theory]
    [InlineData("""{"quant_method": "gptq", "bits": 4}""", "quant_method")]
    [InlineData("""{"quant_method": "fp8", "fmt": "e5m2", "weight_block_size": [128, 128]}""", "fmt")]
    [InlineData("""{"quant_method": "fp8", "activation_scheme": "static", "weight_block_size": [128, 128]}""", "activation_scheme")]
    [InlineData("""{"quant_method": "fp8"}""", "weight_block_size")]
    [InlineData("""{"quant_method": "fp8", "weight_block_size": [128, 0]}""", "weight_block_size")]
    [InlineData("""{"quant_method": "fp8", "weight_block_size": [128, 128], "ignored_layers": ["lm_head"]}""", "ignored_layers")]
    public void AnythingElseIsRefusedByKey(string json, string key)
    {
        var e = Assert.Throws<MoePruneException>(() => Fp8QuantizationConfig.Parse(JsonNode.Parse(json), "model/config.json"));
        Assert.Contains("model/config.json", e.Message);
        Assert.Contains(key, e.Message);
    }
}
