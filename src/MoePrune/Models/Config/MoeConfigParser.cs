using System.Text.Json.Nodes;
using MoePrune.Models.Families;

namespace MoePrune.Models;

/// <summary>
/// Binds config.json to a <see cref="MoeConfig"/>: family defaults as in transformers, derived values after
/// binding, then validation. Any value the engine does not implement is an error naming its key.
/// </summary>
internal static class MoeConfigParser
{
    public const string ExpertsPerLayerKey = "moeprune_experts_per_layer";
    /// <summary>DeepSeek-V3 / GLM: the number of MTP layers stored after the decoder layers.</summary>
    public const string MtpLayersKey = "num_nextn_predict_layers";

    /// <summary>Keys of other families (DeepSeek routing and MLA) that this engine must not ignore.</summary>
    static readonly string[] ForeignKeys =
    [
        "n_routed_experts", "n_shared_experts", "first_k_dense_replace", "routed_scaling_factor", "topk_method",
        "scoring_func", "n_group", "topk_group", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
        "v_head_dim", "moe_layer_freq",
    ];

    public static MoeConfig Parse(JsonObject json, string path) =>
        Parse(json, path, FamilyRegistry.Get(new ConfigReader(json, path).String("model_type"), path));

    /// <summary>Binds <paramref name="json"/> with the given family (tests pass variants of a registered family).</summary>
    internal static MoeConfig Parse(JsonObject json, string path, ModelFamily family)
    {
        var c = new ConfigReader(json, path);
        RejectUnsupported(c, family);

        int hidden = c.Check("hidden_size", c.Int("hidden_size"), 1);
        int heads = c.Check("num_attention_heads", c.Int("num_attention_heads"), 1);
        int kvHeads = c.Check("num_key_value_heads", c.Int("num_key_value_heads", heads), 1, heads);
        if (heads % kvHeads != 0)
            throw new MoePruneException($"{path}: num_attention_heads = {heads} is not a multiple of num_key_value_heads = {kvHeads}");
        int layers = c.Check("num_hidden_layers", c.Int("num_hidden_layers"), 1);
        var mla = family.BindMla?.Invoke(c);
        if (mla is not null && kvHeads != heads)
            throw c.Unsupported("num_key_value_heads", $"MLA builds keys and values for every head: it must equal num_attention_heads = {heads}");
        int headDim = mla?.QkHeadDim ?? HeadDim(c, family, hidden, heads);

        var countKey = family.ExpertCountAliases.Prepend(family.ExpertCountKey).FirstOrDefault(c.Has) ?? family.ExpertCountKey;
        int experts = c.Check(countKey, c.Int(countKey), 1);
        int topK = c.Check("num_experts_per_tok", c.Int("num_experts_per_tok"), 1, experts);
        var sparse = family.MoeLayers.Bind(c, layers);
        bool anyDense = sparse.Any(s => !s);

        var (theta, ropeForm, yarn, partialRotary) = Rope(c, family);
        var config = new MoeConfig
        {
            Source = json,
            Path = path,
            Family = family,
            VocabSize = c.Check("vocab_size", c.Int("vocab_size"), 1),
            HiddenSize = hidden,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            NumExperts = experts,
            TopK = topK,
            ExpertIntermediateSize = c.Check(family.ExpertSizeKey, c.Int(family.ExpertSizeKey), 1),
            DenseIntermediateSize = anyDense ? c.Check("intermediate_size", c.Int("intermediate_size"), 1) : 0,
            SharedExpertIntermediateSize = family.SharedExpert?.Width(c) ?? 0,
            NormTopKProb = family.AlwaysRenormalize || c.Bool("norm_topk_prob", family.DefaultNormTopKProb),
            SparseLayers = sparse,
            ExpertsPerLayer = c.IntList(ExpertsPerLayerKey),
            RmsNormEps = c.Double("rms_norm_eps", family.DefaultRmsNormEps),
            RopeTheta = theta,
            RopeForm = ropeForm,
            TieWordEmbeddings = c.Bool("tie_word_embeddings", family.DefaultTieWordEmbeddings),
            QkvBias = family.QkvBias(c),
            OutputBias = family.OutputBias(c),
            ClipQkv = family.SupportsClipQkv ? c.OptionalDouble("clip_qkv") : null,
            SlidingWindow = family.SupportsSlidingWindow ? c.OptionalInt("sliding_window") : null,
            Dtype = Dtype(c),
            QkNorm = family.QkNormKey is string qkKey && !c.Bool(qkKey, false) ? QkNormPlacement.None : family.QkNorm,
            Groups = family.BindGroupRouting?.Invoke(c) ?? GroupRouting.Plain,
            Mla = mla,
            Yarn = yarn,
            PartialRotaryFactor = partialRotary,
            NumMtpLayers = family.SupportsMtp ? c.Check(MtpLayersKey, c.Int(MtpLayersKey, 0), 0) : 0,
            Fp8 = Quantization.Fp8.Fp8QuantizationConfig.Parse(json["quantization_config"], path),
        };
        if (config.RotaryDim < 2 || config.RotaryDim % 2 != 0 || config.RotaryDim > config.HeadDim)
            throw new MoePruneException($"{path}: RoPE would rotate {config.RotaryDim} of {config.HeadDim} features per head; it needs an even count of at least 2");
        if (config.NumMtpLayers > 0 && config.ExpertsPerLayer is not null)
            throw new MoePruneException($"{path}: {ExpertsPerLayerKey} cannot be combined with {MtpLayersKey} = {config.NumMtpLayers} "
                                        + "(loaders size the MTP layers by the global expert count); drop the MTP layers");
        ValidateExpertsPerLayer(config);
        ValidateExpertCounts(config);
        if (config.SlidingWindow is < 1) throw new MoePruneException($"{path}: sliding_window = {config.SlidingWindow} must be at least 1");
        if (config.ClipQkv is <= 0) throw new MoePruneException($"{path}: clip_qkv = {config.ClipQkv} must be positive");
        return config;
    }

    static void RejectUnsupported(ConfigReader c, ModelFamily family)
    {
        foreach (var key in ForeignKeys)
            if (c.Has(key) && !family.OwnKeys.Contains(key)) throw c.Unsupported(key, $"DeepSeek-style keys are not implemented for {family.ModelType}");
        if (c.Has("rope_scaling") && !family.SupportsYarn) throw c.Unsupported("rope_scaling", "only default RoPE is implemented");
        var act = c.String("hidden_act") ?? "silu";
        if (act != "silu") throw c.Unsupported("hidden_act", "only silu is implemented");
        if (c.Double("attention_dropout", 0) != 0) throw c.Unsupported("attention_dropout", "attention dropout is not implemented");
        if (!family.SupportsSlidingWindow && !family.IgnoresSlidingWindowKey && c.Has("sliding_window"))
            throw c.Unsupported("sliding_window", $"{family.ModelType} has no sliding-window attention");
        if (!family.SupportsClipQkv && c.Has("clip_qkv"))
            throw c.Unsupported("clip_qkv", $"{family.ModelType} does not clip q/k/v");
        if (c.Json["layer_types"] is JsonArray types && types.Any(t => t?.ToString() != "full_attention") && !family.SupportsSlidingWindow)
            throw c.Unsupported("layer_types", "only full_attention layers are implemented");
        foreach (var (key, accept) in family.Unsupported)
            if (!accept(c)) throw c.Unsupported(key, $"not implemented for {family.ModelType}");
        family.Validate(c);
    }

    static int HeadDim(ConfigReader c, ModelFamily family, int hidden, int heads)
    {
        int derived = hidden / heads;
        if (!family.SupportsHeadDimKey)
        {
            if (hidden % heads != 0) throw new MoePruneException($"{c.Source}: hidden_size = {hidden} is not a multiple of num_attention_heads = {heads}");
            if (c.Has("head_dim") && c.Int("head_dim") != derived)
                throw c.Unsupported("head_dim", $"{family.ModelType} always uses hidden_size / num_attention_heads = {derived}");
            return derived;
        }
        if (c.Has("head_dim")) return c.Check("head_dim", c.Int("head_dim"), 2);
        if (hidden % heads != 0) throw new MoePruneException($"{c.Source}: hidden_size = {hidden} is not a multiple of num_attention_heads = {heads} and head_dim is not given");
        return derived;
    }

    /// <summary>
    /// v4 <c>rope_theta</c> (+ <c>rope_scaling</c>) or v5 <c>rope_parameters {"rope_type":…, "rope_theta":…}</c>; YaRN only
    /// where the family supports it; GLM's <c>partial_rotary_factor</c> at the top level or inside <c>rope_parameters</c>.
    /// </summary>
    static (double Theta, RopeForm Form, YarnScaling? Yarn, double PartialRotary) Rope(ConfigReader c, ModelFamily family)
    {
        int? maxPositions = c.OptionalInt("max_position_embeddings");
        double partial = family.DefaultPartialRotaryFactor is double d ? c.Double("partial_rotary_factor", d) : 1.0;
        if (c.Json["rope_parameters"] is JsonNode node)
        {
            if (node is not JsonObject rp) throw c.Bad("rope_parameters", "an object");
            var inner = new ConfigReader(rp, $"{c.Source}: rope_parameters");
            var type = inner.String("rope_type") ?? inner.String("type") ?? "default";
            YarnScaling? yarn = null;
            if (type == "yarn" && family.SupportsYarn) yarn = YarnScaling.Parse(rp, inner.Source, maxPositions);
            else if (type != "default") throw inner.Unsupported("rope_type", family.SupportsYarn ? "only default and yarn RoPE are implemented" : "only default RoPE is implemented");
            if (!inner.Has("rope_theta")) throw inner.Missing("rope_theta");
            if (family.DefaultPartialRotaryFactor is not null) partial = inner.Double("partial_rotary_factor", partial);
            return (inner.Double("rope_theta", 0), RopeForm.RopeParameters, yarn, CheckPartial(c, partial));
        }
        YarnScaling? scaling = null;
        if (c.Json["rope_scaling"] is JsonNode rs)                                 // only families that support YaRN get here
        {
            if (rs is not JsonObject scalingObject) throw c.Bad("rope_scaling", "an object");
            var inner = new ConfigReader(scalingObject, $"{c.Source}: rope_scaling");
            var type = inner.String("rope_type") ?? inner.String("type") ?? "default";
            if (type == "yarn") scaling = YarnScaling.Parse(scalingObject, inner.Source, maxPositions);
            else if (type != "default") throw inner.Unsupported(inner.Has("rope_type") ? "rope_type" : "type", "only default and yarn RoPE are implemented");
        }
        return (c.Double("rope_theta", family.DefaultRopeTheta), RopeForm.RopeTheta, scaling, CheckPartial(c, partial));
    }

    static double CheckPartial(ConfigReader c, double factor) =>
        factor is > 0 and <= 1 ? factor : throw c.Unsupported("partial_rotary_factor", "must be in (0, 1]");

    static TorchSharp.torch.ScalarType Dtype(ConfigReader c)
    {
        var key = c.Has("torch_dtype") ? "torch_dtype" : "dtype";
        var name = c.String(key);
        if (name is null) return TorchSharp.torch.ScalarType.Float32;
        return DtypeNames.TryParse(name) ?? throw c.Unsupported(key, "use float32, bfloat16 or float16");
    }

    static void ValidateExpertsPerLayer(MoeConfig config)
    {
        var list = config.ExpertsPerLayer;
        if (list is null) return;
        var key = ExpertsPerLayerKey;
        if (list.Count != config.NumHiddenLayers)
            throw new MoePruneException($"{config.Path}: {key} has {list.Count} entries, expected one per layer ({config.NumHiddenLayers})");
        for (int i = 0; i < list.Count; i++)
        {
            bool moe = config.IsMoeLayer(i);
            if (moe && (list[i] < config.TopK || list[i] > config.NumExperts))
                throw new MoePruneException($"{config.Path}: {key}[{i}] = {list[i]} must be between num_experts_per_tok = {config.TopK} and {config.Family.ExpertCountKey} = {config.NumExperts}");
            if (!moe && list[i] != 0)
                throw new MoePruneException($"{config.Path}: {key}[{i}] = {list[i]} must be 0 for the dense layer {i}");
        }
    }

    /// <summary>The family's <see cref="ModelFamily.ExpertCountProblem"/> for every distinct count of a sparse layer.</summary>
    static void ValidateExpertCounts(MoeConfig config)
    {
        foreach (var layer in config.MoeLayerIndices)
        {
            int count = config.ExpertsInLayer(layer);
            config.Family.ValidateExpertCount(config, count, config.ExpertsPerLayer is null ? "per layer" : $"in layer {layer}");
            if (config.ExpertsPerLayer is null) return;
        }
    }
}
