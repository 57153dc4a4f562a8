using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Native;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>Independent references for the merge tests: models built here by plain averaging, and merging.json readers.</summary>
static class MergeSupport
{
    /// <summary>
    /// A model with <paramref name="r"/> experts per sparse layer built by this test's own code: every tensor that is not a
    /// routed expert or router copied from <paramref name="full"/> by name, and slot n of each layer = the weighted sum
    /// Σ α_i · expert_i (gate, up; down times the scale) and Σ α_i · router row i over group n, computed in float64 here.
    /// </summary>
    public static MoeForCausalLM Weighted(MoeForCausalLM full, int r, IReadOnlyDictionary<int, (int[][] Groups, double[][] Alphas, double[] Scales)> layers)
    {
        var json = full.Config.ToJson();
        json[full.Config.Family.ExpertCountKey] = r;
        var reference = new MoeForCausalLM(MoeConfig.Parse(json, "reference"), full.Dtype);
        using var noGrad = no_grad();
        var source = full.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in reference.named_parameters())
            if (source.TryGetValue(name, out var s) && s.shape.SequenceEqual(p.shape)) p.copy_(s);
        foreach (var view in reference.MoeLayers)
        {
            var original = full.MoeLayers.Single(v => v.LayerIndex == view.LayerIndex);
            var (groups, alphas, scales) = layers[view.LayerIndex];
            for (int n = 0; n < groups.Length; n++)
            {
                Tensor Sum(Func<int, Tensor> part, double scale = 1)
                {
                    var acc = zeros_like(part(groups[n][0]), dtype: ScalarType.Float64);
                    for (int i = 0; i < groups[n].Length; i++) acc += part(groups[n][i]).to(ScalarType.Float64) * Scalars.Of(alphas[n][i]);
                    return (acc * Scalars.Of(scale)).to(full.Dtype);
                }
                view.GateProj(n).copy_(Sum(original.GateProj));
                view.UpProj(n).copy_(Sum(original.UpProj));
                view.DownProj(n).copy_(Sum(original.DownProj, scales[n]));
                view.RouterWeight[n].copy_(Sum(e => original.RouterWeight[e]));
                if (reference.Model.Layers[view.LayerIndex].Moe!.Router.ScoreCorrectionBias is { } bias)  // (r): Σ α·b (DeepSeek-V3/GLM)
                {
                    var b = full.Model.Layers[view.LayerIndex].Moe!.Router.ScoreCorrectionBias!;
                    double sum = 0;
                    for (int i = 0; i < groups[n].Length; i++) sum += alphas[n][i] * b[groups[n][i]].item<float>();
                    bias[n].fill_(Scalars.Of(sum));
                }
            }
        }
        reference.eval();
        return reference;
    }

    /// <summary>Uniform coefficients for plain groups (scale 1).</summary>
    public static (int[][] Groups, double[][] Alphas, double[] Scales) Uniform(int[][] groups) =>
        (groups, groups.Select(g => g.Select(_ => 1.0 / g.Length).ToArray()).ToArray(), groups.Select(_ => 1.0).ToArray());

    /// <summary>Per merged layer of a merging.json round: groups (slot indices), coefficients and scales.</summary>
    public static Dictionary<int, (int[][] Groups, double[][] Alphas, double[] Scales)> Layers(JsonNode round) =>
        round["layers"]!.AsObject().ToDictionary(l => int.Parse(l.Key), l => (
            l.Value!["group_slots"]!.AsArray().Select(g => g!.AsArray().Select(e => (int)e!).ToArray()).ToArray(),
            l.Value["coefficients"]!.AsArray().Select(g => g!.AsArray().Select(e => (double)e!).ToArray()).ToArray(),
            l.Value["scales"]!.AsArray().Select(s => (double)s!).ToArray()));

    public static JsonNode Record(string dir) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "merging.json")))!;

    /// <summary>Every stored tensor's bytes by name.</summary>
    public static Dictionary<string, byte[]> TensorBytes(string dir)
    {
        using var checkpoint = CheckpointDirectory.Open(dir);
        var result = new Dictionary<string, byte[]>();
        foreach (var name in checkpoint.Tensors.Keys)
            using (var t = checkpoint.Read(name))
                result[name] = t.bytes.ToArray();
        return result;
    }

    /// <summary>A groups-map file.</summary>
    public static string GroupsMap(string path, IReadOnlyDictionary<int, int[][]> map)
    {
        var json = new JsonObject();
        foreach (var (layer, groups) in map)
            json[layer.ToString()] = new JsonArray(groups.Select(g => (JsonNode)new JsonArray(g.Select(e => (JsonNode)e).ToArray())).ToArray());
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }
}
