using MoePrune.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Models;

/// <summary>
/// Real-size models built on the meta device (no memory): their state-dict names and shapes must equal the
/// lists make_golden_shapes.py derives from the published configs and transformers' naming rules.
/// </summary>
public class GoldenShapeTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("Mixtral-8x7B-v0.1", 46_702_792_704L)]
    [InlineData("Qwen1.5-MoE-A2.7B", 14_315_784_192L)]
    [InlineData("Qwen3-30B-A3B", 30_532_122_624L)]
    [InlineData("OLMoE-1B-7B-0924", 6_919_161_856L)]
    public void MetaModelStateDictMatchesGoldenList(string name, long totalParameters)
    {
        var dir = Path.Combine(ModelFixtures.Dir("real_configs"));
        var config = MoeConfig.Load(Path.Combine(dir, name + ".json"));
        using var model = new MoeForCausalLM(config, device: new torch.Device(DeviceType.META));
        var ours = model.named_parameters()
            .Select(p => $"{p.name} [{string.Join(", ", p.parameter.shape)}]")
            .Order(StringComparer.Ordinal).ToList();
        var golden = File.ReadAllLines(Path.Combine(dir, name + ".shapes.txt")).Where(l => l.Length > 0).ToList();

        var missing = golden.Except(ours).ToList();
        var extra = ours.Except(golden).ToList();
        output.WriteLine($"{name}: {ours.Count} tensors (golden {golden.Count}); missing {missing.Count}, extra {extra.Count}");
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"missing: {string.Join("; ", missing.Take(3))} extra: {string.Join("; ", extra.Take(3))}");
        Assert.Equal(golden, ours);

        var (total, active) = model.CountParameters();
        output.WriteLine($"{name}: {total:N0} parameters, {active:N0} active per token");
        Assert.Equal(totalParameters, total);
        Assert.True(active < total);
    }
}
