using MoePrune.Models;

namespace MoePrune.IO.Gguf;

/// <summary>
/// The <c>general.*</c> and <c>&lt;arch&gt;.*</c> metadata of a model, with the keys and types llama.cpp's
/// loader reads (<c>llama-model.cpp</c>): sizes as uint32, epsilon and RoPE base as float32, written from the
/// config (never a family default that differs from it). The expert count is the model's current one.
/// </summary>
public static class GgufModelMetadata
{
    public static GgufMetadata Build(MoeConfig config, GgufArchitecture arch, GgufFloatType type, string name)
    {
        string a = arch.Name;
        int experts = config.MoeLayerIndices.Select(config.ExpertsInLayer).Distinct().Single();
        var meta = new GgufMetadata()
            .String("general.architecture", a)
            .String("general.type", "model")
            .String("general.name", name)
            .UInt32("general.file_type", GgufTypes.FileType(type))
            .UInt32($"{a}.vocab_size", (uint)config.VocabSize)
            .UInt32($"{a}.context_length", (uint)GgufArchitecture.ContextLength(config))
            .UInt32($"{a}.embedding_length", (uint)config.HiddenSize)
            .UInt32($"{a}.block_count", (uint)config.NumHiddenLayers)
            .UInt32($"{a}.feed_forward_length", (uint)(arch.ExpertFeedForwardKey ? config.DenseIntermediateSize : config.ExpertIntermediateSize))
            .UInt32($"{a}.attention.head_count", (uint)config.NumAttentionHeads)
            .UInt32($"{a}.attention.head_count_kv", (uint)arch.FileKvHeads(config))
            .UInt32($"{a}.attention.key_length", (uint)config.HeadDim)
            .UInt32($"{a}.attention.value_length", (uint)config.HeadDim)
            .Float32($"{a}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps)
            .Float32($"{a}.rope.freq_base", (float)config.RopeTheta)
            .UInt32($"{a}.rope.dimension_count", (uint)config.HeadDim)
            .UInt32($"{a}.expert_count", (uint)experts)
            .UInt32($"{a}.expert_used_count", (uint)config.TopK);
        if (arch.ExpertFeedForwardKey) meta.UInt32($"{a}.expert_feed_forward_length", (uint)config.ExpertIntermediateSize);
        if (arch.SharedExpert) meta.UInt32($"{a}.expert_shared_feed_forward_length", (uint)config.SharedExpertIntermediateSize);
        return meta;
    }
}
