using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Families;

/// <summary>
/// The published configs of DeepSeek-V2-Lite, DeepSeek-V3, Kimi-K2 and GLM-4.5-Air built on the meta device (no
/// memory): every checkpoint tensor name and shape equals the list make_deepseek_counts.py derived from the configs
/// (<c>.shape_ranges.txt</c>, MTP layers included), and the parameter counts equal counts.json, which reproduces the
/// published totals (671B + 14B MTP for DeepSeek-V3, 1T for Kimi-K2, 106B for GLM-4.5-Air, 15.7B for V2-Lite).
/// </summary>
public class DeepseekGoldenShapeTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("DeepSeek-V2-Lite")]
    [InlineData("DeepSeek-V3")]
    [InlineData("Kimi-K2-Instruct")]
    [InlineData("GLM-4.5-Air")]
    public void MetaModelMatchesTheCheckpointTensorListAndParameterCounts(string name)
    {
        var dir = ModelFixtures.Dir("real_configs");
        var config = MoeConfig.Load(Path.Combine(dir, name + ".json"));
        var counts = JsonFile.ReadObject(Path.Combine(dir, name + ".counts.json"));
        using var model = new MoeForCausalLM(config, device: new torch.Device(DeviceType.META), mtpHead: MtpHeadLayout.Full);
        var ours = model.named_parameters().Select(p => $"{p.name} [{string.Join(", ", p.parameter.shape)}]").ToHashSet();
        var golden = File.ReadAllLines(Path.Combine(dir, name + ".shape_ranges.txt")).Where(l => l.Length > 0).SelectMany(Expand).ToList();
        var missing = golden.Where(g => !ours.Contains(g)).ToList();
        var extra = ours.Except(golden).ToList();
        output.WriteLine($"{name}: {ours.Count} tensors (golden {golden.Count}, counts.json {counts["tensors"]} + {counts["mtp_tensors"]} MTP); missing {missing.Count}, extra {extra.Count}");
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing: {string.Join("; ", missing.Take(3))} extra: {string.Join("; ", extra.Take(3))}");
        Assert.Equal((long)counts["tensors"]! + (long)counts["mtp_tensors"]!, golden.Count);  // "tensors" leaves the MTP layers out

        var (total, active) = model.CountParameters();
        long bias = (long)counts["e_score_correction_bias"]!;
        output.WriteLine($"{name}: {total:N0} parameters (incl. {bias:N0} router bias), {active:N0} active, MTP {model.CountMtpParameters():N0}");
        Assert.Equal((long)counts["parameters"]! + bias, total);               // transformers counts the bias as a buffer
        Assert.Equal((long)counts["active_parameters"]! + bias, active);
        Assert.Equal((long)counts["mtp_parameters"]!, model.CountMtpParameters());
        Assert.Equal((int)counts["moe_layers"]!, config.MoeLayerIndices.Count());
    }

    /// <summary><c>model.layers.{3-60}.mlp.experts.{0-255}.w [a, b]</c> → one line per index combination.</summary>
    static IEnumerable<string> Expand(string line)
    {
        var m = Regex.Match(line, @"\{(\d+)-(\d+)\}|\{(\d+)\}");
        if (!m.Success) return [line];
        int from = int.Parse(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[3].Value);
        int to = m.Groups[2].Success ? int.Parse(m.Groups[2].Value) : from;
        return Enumerable.Range(from, to - from + 1)
            .SelectMany(i => Expand(line[..m.Index] + i + line[(m.Index + m.Length)..]));
    }
}
