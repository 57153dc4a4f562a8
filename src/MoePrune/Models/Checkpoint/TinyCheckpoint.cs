using System.Text.Json.Nodes;
using MoePrune.Models.Families;
using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// Small random-weight checkpoints of each family, written as Hugging Face directories: for tests, the
/// README's first command (<c>moeprune make-tiny</c>) and benchmarks. Default shape: hidden 64, 2 layers,
/// 4 heads (2 KV heads), 8 experts of width 96, top-2, vocab 256. A <see cref="TinyVariant"/> adds group-limited
/// routing, MTP layers, FP8 weights or a real tokenizer.
/// </summary>
public static class TinyCheckpoint
{
    public static IReadOnlyList<string> Families => FamilyRegistry.All.Select(f => f.ModelType).ToArray();

    /// <summary>The config.json of a tiny model of <paramref name="modelType"/>.</summary>
    public static JsonObject Config(string modelType, int hidden = 64, int layers = 2, int experts = 8, int topK = 2,
                                    int expertSize = 96, int vocab = 256, ScalarType dtype = ScalarType.Float32)
    {
        var family = FamilyRegistry.Get(modelType, "make-tiny");
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(family.Architecture),
            ["model_type"] = family.ModelType,
            ["vocab_size"] = vocab,
            ["hidden_size"] = hidden,
            ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = 4,
            ["num_key_value_heads"] = 2,
            ["hidden_act"] = "silu",
            ["max_position_embeddings"] = 4096,
            ["rms_norm_eps"] = family.DefaultRmsNormEps,
            ["rope_theta"] = family.DefaultRopeTheta,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = DtypeNames.ToConfigName(dtype),
            ["num_experts_per_tok"] = topK,
            [family.ExpertCountKey] = experts,
            [family.ExpertSizeKey] = expertSize,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
        };
        if (!family.AlwaysRenormalize) json["norm_topk_prob"] = family.DefaultNormTopKProb;
        if (family.SharedExpert is { } shared)
        {
            if (shared.IntermediateSizeKey != family.ExpertSizeKey)                  // DeepSeek: moe_intermediate_size × n_shared_experts
                json[shared.IntermediateSizeKey] = 2 * expertSize;
            if (shared.CountKey is not null) json[shared.CountKey] = 1;
        }
        if (family.MoeLayers.AllSparseKeys.Count > 0)
        {
            json["intermediate_size"] = 2 * expertSize;                                // width of layers made dense
            foreach (var (key, value) in family.MoeLayers.AllSparseKeys) json[key] = value.DeepClone();
        }
        foreach (var (key, value) in family.TinyConfigKeys) json[key] = value.DeepClone();
        return json;
    }

    /// <summary>Builds a model from <paramref name="config"/> with seeded random weights.</summary>
    public static MoeForCausalLM Random(JsonObject config, int seed = 0, ScalarType? dtype = null)
    {
        var model = new MoeForCausalLM(MoeConfig.Parse(config, "tiny config"), dtype);
        Randomize(model, seed);
        model.eval();
        return model;
    }

    /// <summary>Writes a tiny random checkpoint of <paramref name="modelType"/> (and <paramref name="variant"/>) to <paramref name="outDir"/>.</summary>
    public static MoeConfig Write(string modelType, string outDir, int seed = 0, ScalarType dtype = ScalarType.Float32, TinyVariant? variant = null)
    {
        variant ??= new TinyVariant();
        var json = variant.VocabSize() is int vocab ? Config(modelType, vocab: vocab, dtype: dtype) : Config(modelType, dtype: dtype);
        variant.ApplyTo(json, FamilyRegistry.Get(modelType, "make-tiny"));
        using var model = Random(json, seed);
        variant.Quantize(model);
        ModelLoader.Save(model, outDir, copyAuxFrom: variant.TokenizerDir);
        return model.Config;
    }

    /// <summary>
    /// Norm weights ≈ 1, biases small, matrices N(0, 1/fan_in) (embeddings N(0, 1)): activations keep a
    /// sensible scale through the layers, so routing and logits are not degenerate.
    /// </summary>
    public static void Randomize(MoeForCausalLM model, int seed)
    {
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var (name, p) in model.named_parameters())
        {
            using var scope = NewDisposeScope();
            Tensor value;                                                              // p.shape, fp32
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
                value = Scalars.Of(1) + Scalars.Of(0.1) * randn(p.shape, generator: generator);
            else if (name.EndsWith(".bias", StringComparison.Ordinal) || name.EndsWith(Router.ScoreCorrectionBiasName, StringComparison.Ordinal))
                value = Scalars.Of(0.02) * randn(p.shape, generator: generator);
            else if (name.EndsWith("embed_tokens.weight", StringComparison.Ordinal))
                value = randn(p.shape, generator: generator);
            else
                value = randn(p.shape, generator: generator) / Scalars.Of(Math.Sqrt(p.shape[^1]));
            p.copy_(value);
        }
    }
}
