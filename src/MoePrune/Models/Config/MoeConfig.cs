using System.Text.Json.Nodes;
using MoePrune.Models.Families;
using TorchSharp;

namespace MoePrune.Models;

/// <summary>How config.json spelled the RoPE base: v4 <c>rope_theta</c> or v5 <c>rope_parameters</c>.</summary>
public enum RopeForm { RopeTheta, RopeParameters }

/// <summary>
/// A typed, validated view of an MoE config.json. Values are bound from the original JSON (which is kept
/// verbatim in <see cref="Source"/>) by <see cref="MoeConfigParser"/>, derived values are computed after
/// binding, and every key this engine does not implement is rejected by name. <see cref="ToJson"/>
/// patches only the keys that pruning changes and keeps every other key as it was.
/// </summary>
public sealed class MoeConfig
{
    /// <summary>The parsed config.json, untouched. Never modified; exports patch a deep copy.</summary>
    public required JsonObject Source { get; init; }
    /// <summary>Where the config came from (for error messages).</summary>
    public required string Path { get; init; }
    public required ModelFamily Family { get; init; }
    public string ModelType => Family.ModelType;

    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    /// <summary>Derived: <c>head_dim</c> when given (not OLMoE), else hidden / heads.</summary>
    public required int HeadDim { get; init; }

    /// <summary>Routed experts per MoE layer (uniform count; see <see cref="ExpertsInLayer"/>).</summary>
    public required int NumExperts { get; init; }
    /// <summary><c>num_experts_per_tok</c>.</summary>
    public required int TopK { get; init; }
    /// <summary>Expert FFN width (Mixtral/OLMoE <c>intermediate_size</c>, Qwen <c>moe_intermediate_size</c>).</summary>
    public required int ExpertIntermediateSize { get; init; }
    /// <summary>Dense-MLP width of non-MoE layers (Qwen <c>intermediate_size</c>); 0 when the family has none.</summary>
    public required int DenseIntermediateSize { get; init; }
    /// <summary>Width of the shared-expert MLP (<see cref="SharedExpertSpec.Width"/>; Qwen2-MoE <c>shared_expert_intermediate_size</c>); 0 without one.</summary>
    public required int SharedExpertIntermediateSize { get; init; }
    /// <summary>Renormalise top-k weights (Mixtral always; others <c>norm_topk_prob</c>).</summary>
    public required bool NormTopKProb { get; init; }
    /// <summary>Per decoder layer, true when it holds the sparse block (the family's <see cref="MoeLayerRule"/>).</summary>
    public required IReadOnlyList<bool> SparseLayers { get; init; }
    /// <summary>Non-portable per-layer expert counts (<c>moeprune_experts_per_layer</c>, one per decoder layer, 0 for dense layers).</summary>
    public required IReadOnlyList<int>? ExpertsPerLayer { get; init; }

    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }
    public required RopeForm RopeForm { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    public required bool QkvBias { get; init; }
    public required bool OutputBias { get; init; }
    /// <summary>OLMoE <c>clip_qkv</c>; null when unset.</summary>
    public required double? ClipQkv { get; init; }
    /// <summary>Mixtral <c>sliding_window</c>; null for full causal attention.</summary>
    public required int? SlidingWindow { get; init; }
    /// <summary>The checkpoint's dtype (<c>torch_dtype</c> / v5 <c>dtype</c>), float32 when absent.</summary>
    public required torch.ScalarType Dtype { get; init; }

    /// <summary>Where QK-norm applies: the family's placement, or none where the family switches it off by key (GLM <c>use_qk_norm</c>).</summary>
    public QkNormPlacement QkNorm { get; init; }
    /// <summary>DeepSeek / GLM: expert groups, group-limited selection and <c>routed_scaling_factor</c>; <see cref="GroupRouting.Plain"/> otherwise.</summary>
    public GroupRouting Groups { get; init; } = GroupRouting.Plain;
    /// <summary>Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2); null for standard attention.</summary>
    public MlaSpec? Mla { get; init; }
    /// <summary>YaRN rope scaling; null for default RoPE.</summary>
    public YarnScaling? Yarn { get; init; }
    /// <summary>GLM <c>partial_rotary_factor</c>: RoPE on the first ⌊head_dim·factor⌋ features of each head (1 elsewhere).</summary>
    public double PartialRotaryFactor { get; init; } = 1.0;
    /// <summary>
    /// Multi-token-prediction layers (<c>num_nextn_predict_layers</c>): decoder layers
    /// <see cref="NumHiddenLayers"/>..+n−1 stored in the checkpoint with their MTP head, not run by the forward.
    /// </summary>
    public int NumMtpLayers { get; init; }
    /// <summary>Block-FP8 weights (<c>quantization_config</c> of DeepSeek-V3 / Kimi-K2); null for plain checkpoints.</summary>
    public Quantization.Fp8.Fp8QuantizationConfig? Fp8 { get; init; }

    /// <summary>Features of each head that RoPE rotates: MLA's qk_rope_head_dim, else ⌊head_dim · partial_rotary_factor⌋.</summary>
    public int RotaryDim => Mla?.QkRopeHeadDim ?? (int)(HeadDim * PartialRotaryFactor);

    /// <summary>Reads and validates config.json text already parsed into a JsonObject.</summary>
    public static MoeConfig Parse(JsonObject json, string path) => MoeConfigParser.Parse(json, path);

    /// <summary>Reads and validates a config.json file.</summary>
    public static MoeConfig Load(string path)
    {
        if (!File.Exists(path)) throw new MoePruneException($"{path}: config.json not found");
        return Parse(IO.JsonFile.ReadObject(path), path);
    }

    /// <summary>
    /// True when <paramref name="layer"/> holds the sparse block (the family's rule, bound from this config); MTP layers
    /// (<see cref="IsMtpLayer"/>) always do.
    /// </summary>
    public bool IsMoeLayer(int layer) => layer >= NumHiddenLayers ? IsMtpLayer(layer) : SparseLayers[layer];

    /// <summary>True for the MTP layers NumHiddenLayers..NumHiddenLayers + NumMtpLayers − 1.</summary>
    public bool IsMtpLayer(int layer) => layer >= NumHiddenLayers && layer < NumHiddenLayers + NumMtpLayers;

    /// <summary>Decoder layers stored in the checkpoint: the forward's plus the MTP layers.</summary>
    public int StoredLayers => NumHiddenLayers + NumMtpLayers;

    /// <summary>
    /// Routed experts in a layer: the per-layer list where present, else <see cref="NumExperts"/>; 0 for dense layers.
    /// MTP layers hold <see cref="NumExperts"/> (the global count stock loaders size them by).
    /// </summary>
    public int ExpertsInLayer(int layer) =>
        !IsMoeLayer(layer) ? 0 : layer >= NumHiddenLayers ? NumExperts : ExpertsPerLayer?[layer] ?? NumExperts;

    public IEnumerable<int> MoeLayerIndices => Enumerable.Range(0, NumHiddenLayers).Where(IsMoeLayer);

    /// <summary>
    /// A copy of the original JSON with the pruning-related keys patched (<see cref="WithCounts"/>), and
    /// optionally the dtype key. Everything else, including the RoPE form, is kept verbatim.
    /// </summary>
    public JsonObject ToJson(torch.ScalarType? dtype = null)
    {
        var json = WithCounts(Source, NumExperts, ExpertsPerLayer);
        if (dtype is { } dt)
        {
            var key = json.ContainsKey("dtype") && !json.ContainsKey("torch_dtype") ? "dtype" : "torch_dtype";
            json[key] = DtypeNames.ToConfigName(dt);
        }
        return json;
    }

    /// <summary>
    /// This config with a new expert count: uniform (<paramref name="perLayer"/> null) or per layer
    /// (non-portable; <see cref="NumExperts"/> becomes the largest count). Re-validated.
    /// </summary>
    public MoeConfig WithExperts(int numExperts, IReadOnlyList<int>? perLayer = null) =>
        MoeConfigParser.Parse(WithCounts(Source, perLayer is null ? numExperts : perLayer.Max(), perLayer), Path, Family);

    /// <summary>This config without MTP layers: <c>num_nextn_predict_layers</c> set to 0 (the checkpoint drops them). Re-validated.</summary>
    public MoeConfig WithoutMtpLayers()
    {
        var json = (JsonObject)Source.DeepClone();
        json[MoeConfigParser.MtpLayersKey] = 0;
        return MoeConfigParser.Parse(json, Path, Family);
    }

    /// <summary>
    /// A deep copy of <paramref name="source"/> with the expert counts set: the family's count key (and
    /// <c>num_local_experts</c> where also present), and <c>moeprune_experts_per_layer</c> written or removed.
    /// </summary>
    private JsonObject WithCounts(JsonObject source, int numExperts, IReadOnlyList<int>? perLayer)
    {
        var json = (JsonObject)source.DeepClone();
        json[Family.ExpertCountKey] = numExperts;
        if (Family.ExpertCountKey != "num_local_experts" && json.ContainsKey("num_local_experts"))
            json["num_local_experts"] = numExperts;
        if (perLayer is null) json.Remove(MoeConfigParser.ExpertsPerLayerKey);
        else json[MoeConfigParser.ExpertsPerLayerKey] = new JsonArray(perLayer.Select(n => (JsonNode)n).ToArray());
        return json;
    }
}
