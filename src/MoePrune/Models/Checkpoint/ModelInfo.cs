using System.Text.Json.Nodes;
using MoePrune.IO;
using TorchSharp;

namespace MoePrune.Models;

/// <summary>
/// A checkpoint's architecture summary without loading weights: the model is built on the meta device
/// for parameter counts; bytes come from the safetensors headers. <see cref="Details"/> adds, where they apply, the
/// attention (MLA sizes, QK-norm, partial rotary), RoPE scaling, group routing, MTP layers and FP8 storage.
/// </summary>
public sealed record ModelInfo(
    string Dir, string ModelType, int Layers, IReadOnlyList<int> MoeLayers, IReadOnlyList<int> ExpertsPerLayer,
    int TopK, int SharedExperts, long TotalParameters, long ActiveParameters,
    IReadOnlyDictionary<string, long> BytesByDtype, IReadOnlyList<string> Shards, long TotalBytes)
{
    /// <summary>Architecture details beyond the shared summary, as (label, text) lines; JSON in <see cref="DetailsJson"/>.</summary>
    public IReadOnlyList<(string Label, string Text)> Details { get; init; } = [];
    /// <summary>The same details as JSON objects under their labels.</summary>
    public JsonObject DetailsJson { get; init; } = [];

    public static ModelInfo Read(string dir)
    {
        using var checkpoint = CheckpointDirectory.Open(dir);
        var config = MoeConfig.Parse(checkpoint.Config, Path.Combine(dir, CheckpointDirectory.ConfigFile));
        using var model = new MoeForCausalLM(config, device: new torch.Device(DeviceType.META), mtpHead: MtpHead.Detect(config, checkpoint.Tensors.Keys));
        CheckpointLayout.Plan(model, checkpoint.Tensors, dir);                         // strict names and shapes
        var (total, active) = model.CountParameters();
        var bytes = checkpoint.Tensors.Values
            .GroupBy(t => SafeDtypes.Name(t.Dtype))
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(t => t.Bytes));
        var moeLayers = config.MoeLayerIndices.ToList();
        var (details, detailsJson) = ModelInfoDetails.Describe(config, model, checkpoint);
        return new ModelInfo(dir, config.ModelType, config.NumHiddenLayers, moeLayers,
            moeLayers.Select(config.ExpertsInLayer).ToList(), config.TopK, SharedExpertCount(config),
            total, active, bytes, checkpoint.ShardFiles.Select(Path.GetFileName).ToList()!, checkpoint.TotalBytes)
        {
            Details = details,
            DetailsJson = detailsJson,
        };
    }

    /// <summary>Shared experts per MoE layer: DeepSeek's n_shared_experts (stacked into one MLP), else 1 or 0.</summary>
    private static int SharedExpertCount(MoeConfig config) =>
        config.Family.SharedExpert is { CountKey: not null } ? config.SharedExpertIntermediateSize / config.ExpertIntermediateSize
        : config.Family.HasSharedExpert ? 1 : 0;

    public JsonObject ToJson() => new()
    {
        ["dir"] = Dir,
        ["model_type"] = ModelType,
        ["layers"] = Layers,
        ["moe_layers"] = new JsonArray(MoeLayers.Select(l => (JsonNode)l).ToArray()),
        ["experts_per_layer"] = new JsonArray(ExpertsPerLayer.Select(e => (JsonNode)e).ToArray()),
        ["top_k"] = TopK,
        ["shared_experts"] = SharedExperts,
        ["total_parameters"] = TotalParameters,
        ["active_parameters"] = ActiveParameters,
        ["bytes_by_dtype"] = new JsonObject(BytesByDtype.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        ["shards"] = new JsonArray(Shards.Select(s => (JsonNode)s).ToArray()),
        ["total_bytes"] = TotalBytes,
        ["details"] = DetailsJson.DeepClone(),
    };
}
