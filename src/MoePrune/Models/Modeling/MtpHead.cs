using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>Which head tensors an MTP layer stores beside <c>enorm</c>, <c>hnorm</c>, <c>eh_proj</c> and <c>shared_head.norm</c>.</summary>
public enum MtpHeadLayout
{
    /// <summary>Also its own <c>embed_tokens</c> and <c>shared_head.head</c> (DeepSeek-V3 as shipped).</summary>
    Full,
    /// <summary>Neither: the draft head reuses the main model's embedding and lm_head.</summary>
    NormOnly,
}

/// <summary>
/// The multi-token-prediction head of MTP layer j (<c>model.layers.{num_hidden_layers + j}</c>, DeepSeek-V3 / GLM-4.5):
/// <c>enorm</c> and <c>hnorm</c> (H), <c>eh_proj</c> (H, 2H), <c>shared_head.norm</c> (H) and, in the
/// <see cref="MtpHeadLayout.Full"/> layout, <c>embed_tokens</c> (V, H) and <c>shared_head.head</c> (V, H). transformers never
/// builds it; vLLM, SGLang and llama.cpp use it as a speculative-decoding draft head. It is held (loaded strictly,
/// exported, pruned with its layer's experts) but not run: <see cref="MoeModel"/>'s forward stops before the MTP layers.
/// </summary>
public static class MtpHead
{
    /// <summary>Registers the head tensors of an MTP layer on <paramref name="layer"/> under their checkpoint names.</summary>
    public static void Register(nn.Module layer, MoeConfig config, MtpHeadLayout layout, ScalarType dtype, Device device)
    {
        int h = config.HiddenSize;
        layer.register_module("enorm", new RmsNorm(h, config.RmsNormEps, dtype, device));
        layer.register_module("hnorm", new RmsNorm(h, config.RmsNormEps, dtype, device));
        layer.register_module("eh_proj", new EmptyLinear(2L * h, h, false, dtype, device));
        layer.register_module("shared_head", new SharedHead(config, layout, dtype, device));
        if (layout == MtpHeadLayout.Full)
            layer.register_module("embed_tokens", new EmptyEmbedding(config.VocabSize, h, dtype, device));
    }

    /// <summary>
    /// The layout the tensors of a checkpoint imply: <see cref="MtpHeadLayout.Full"/> when any MTP layer stores
    /// <c>embed_tokens</c> or <c>shared_head.head</c> (strict loading then requires both in every MTP layer).
    /// </summary>
    public static MtpHeadLayout Detect(MoeConfig config, IEnumerable<string> tensorNames)
    {
        var full = Enumerable.Range(config.NumHiddenLayers, config.NumMtpLayers)
            .SelectMany(l => new[] { $"model.layers.{l}.embed_tokens.weight", $"model.layers.{l}.shared_head.head.weight" })
            .ToHashSet();
        return full.Count > 0 && tensorNames.Any(full.Contains) ? MtpHeadLayout.Full : MtpHeadLayout.NormOnly;
    }

    /// <summary>The MTP layer's output head: <c>norm</c> and, in the full layout, <c>head</c> (V, H).</summary>
    private sealed class SharedHead : nn.Module
    {
        public SharedHead(MoeConfig config, MtpHeadLayout layout, ScalarType dtype, Device device) : base(nameof(SharedHead))
        {
            register_module("norm", new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device));
            if (layout == MtpHeadLayout.Full)
                register_module("head", new EmptyLinear(config.HiddenSize, config.VocabSize, false, dtype, device));
        }
    }
}
