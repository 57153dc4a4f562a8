using System.Text.Json.Nodes;

namespace MoePrune.Models.Families;

/// <summary>
/// A family's rule for which decoder layers hold the sparse block; the other layers hold a dense SwiGLU MLP
/// named <c>mlp</c> of width <c>intermediate_size</c>. The rule reads its own config keys, so a new rule
/// (DeepSeek's <c>first_k_dense_replace</c> / <c>moe_layer_freq</c>) is one more subclass.
/// </summary>
public abstract class MoeLayerRule
{
    /// <summary>Every layer is sparse (Mixtral, OLMoE); no key is read.</summary>
    public static MoeLayerRule EveryLayer { get; } = new Every();

    /// <summary>Qwen2/3-MoE: sparse unless listed in <c>mlp_only_layers</c> or off the <c>decoder_sparse_step</c> grid.</summary>
    public static MoeLayerRule MlpOnlyLayersAndSparseStep { get; } = new QwenSparseStep();

    /// <summary>
    /// DeepSeek / GLM: sparse from layer <c>first_k_dense_replace</c> on (default <paramref name="defaultFirstDense"/>). DeepSeek's
    /// own code also requires layer % <c>moe_layer_freq</c> == 0, which transformers ignores: any frequency but 1 is refused.
    /// </summary>
    public static MoeLayerRule FirstKDenseReplace(int defaultFirstDense, bool readsLayerFreq) => new FirstKDense(defaultFirstDense, readsLayerFreq);

    /// <summary>Per decoder layer, true when it is sparse; a bad key value is a one-line error naming the key.</summary>
    public abstract bool[] Bind(ConfigReader config, int numLayers);

    /// <summary>The keys the rule reads, with the values that make every layer sparse (tiny checkpoints write them).</summary>
    public abstract IReadOnlyList<(string Key, JsonNode Value)> AllSparseKeys { get; }

    private sealed class Every : MoeLayerRule
    {
        public override bool[] Bind(ConfigReader config, int numLayers) => Enumerable.Repeat(true, numLayers).ToArray();
        public override IReadOnlyList<(string Key, JsonNode Value)> AllSparseKeys => [];
    }

    private sealed class FirstKDense(int defaultFirstDense, bool readsLayerFreq) : MoeLayerRule
    {
        public override bool[] Bind(ConfigReader config, int numLayers)
        {
            int first = config.Check("first_k_dense_replace", config.Int("first_k_dense_replace", defaultFirstDense), 0, numLayers - 1);
            if (readsLayerFreq && config.Int("moe_layer_freq", 1) != 1)
                throw config.Unsupported("moe_layer_freq", "transformers ignores it while DeepSeek's code puts MoE only on every k-th layer");
            // python: if config.n_routed_experts is not None and layer_idx >= config.first_k_dense_replace
            return Enumerable.Range(0, numLayers).Select(i => i >= first).ToArray();
        }

        public override IReadOnlyList<(string Key, JsonNode Value)> AllSparseKeys =>
            readsLayerFreq
                ? [("first_k_dense_replace", JsonValue.Create(0)), ("moe_layer_freq", JsonValue.Create(1))]
                : [("first_k_dense_replace", JsonValue.Create(0))];
    }

    private sealed class QwenSparseStep : MoeLayerRule
    {
        public override bool[] Bind(ConfigReader config, int numLayers)
        {
            var mlpOnly = config.IntList("mlp_only_layers") ?? [];
            foreach (var l in mlpOnly)
                if (l < 0 || l >= numLayers)
                    throw new MoePruneException($"{config.Source}: mlp_only_layers has layer {l} outside 0..{numLayers - 1}");
            int step = config.Check("decoder_sparse_step", config.Int("decoder_sparse_step", 1), 1);
            // python: if (layer_idx not in config.mlp_only_layers) and (config.num_experts > 0 and (layer_idx + 1) % config.decoder_sparse_step == 0)
            return Enumerable.Range(0, numLayers).Select(i => !mlpOnly.Contains(i) && (i + 1) % step == 0).ToArray();
        }

        public override IReadOnlyList<(string Key, JsonNode Value)> AllSparseKeys =>
            [("decoder_sparse_step", JsonValue.Create(1)), ("mlp_only_layers", new JsonArray())];
    }
}
