using MoePrune.Models;

namespace MoePrune.IO.Gguf;

/// <summary>
/// The model settings llama.cpp cannot represent for an architecture, found before anything is written.
/// A file that loads but computes something else is never written: each problem is a refusal, except the
/// exact rewrite of OLMoE grouped-query attention (<see cref="GgufArchitecture.KNormFullWidth"/>).
/// </summary>
public static class GgufCompatibility
{
    /// <summary>Everything about <paramref name="config"/> that llama.cpp's <paramref name="arch"/> cannot represent (empty when exportable).</summary>
    public static IReadOnlyList<string> Problems(MoeConfig config, GgufArchitecture arch)
    {
        var problems = new List<string>();
        var dense = Enumerable.Range(0, config.NumHiddenLayers).Where(l => !config.IsMoeLayer(l)).ToList();
        if (dense.Count > 0)
            problems.Add($"layers {string.Join(", ", dense)} are dense MLP layers: llama.cpp's {arch.Name} makes every layer sparse " +
                         "and has no exact rewrite for them (see docs/GGUF.md)");
        if (config.ExpertsPerLayer is { } perLayer && perLayer.Where((n, l) => config.IsMoeLayer(l)).Distinct().Count() > 1)
            problems.Add($"expert counts differ per layer ({string.Join(", ", perLayer)}): GGUF's {arch.Name}.expert_count is one number");
        if (config.NormTopKProb != arch.Renormalizes)
            problems.Add(arch.Renormalizes
                ? $"norm_topk_prob is false, but llama.cpp's {arch.Name} always renormalises the top-k routing weights"
                : $"norm_topk_prob is true, but llama.cpp's {arch.Name} never renormalises the top-k routing weights");
        if (config.QkvBias && !arch.UsesQkvBias)
            problems.Add($"q/k/v projections have biases, which llama.cpp's {arch.Name} graph ignores");
        if (config.OutputBias && !arch.LoadsOutputBias)
            problems.Add($"o_proj has a bias, which llama.cpp's {arch.Name} does not load");
        if (config.ClipQkv is double clip)
            problems.Add($"clip_qkv = {clip}: llama.cpp's {arch.Name} graph does not clamp q/k/v");
        if (arch.FullWidthQ && config.HeadDim * config.NumAttentionHeads != config.HiddenSize)
            problems.Add($"head_dim {config.HeadDim} × {config.NumAttentionHeads} heads ≠ hidden_size {config.HiddenSize}: " +
                         $"llama.cpp's {arch.Name} makes Q and attn_output hidden_size wide");
        if (config.SlidingWindow is int window && window < GgufArchitecture.ContextLength(config))
            problems.Add($"sliding_window = {window} is shorter than the context ({GgufArchitecture.ContextLength(config)}): " +
                         $"llama.cpp's {arch.Name} attends to the whole context");
        if (config.HeadDim % 2 != 0)
            problems.Add($"head_dim {config.HeadDim} is odd: RoPE needs pairs");
        return problems;
    }

    /// <summary>Throws one <see cref="MoePruneException"/> naming <paramref name="source"/> and every problem.</summary>
    public static void Check(MoeConfig config, GgufArchitecture arch, string source)
    {
        var problems = Problems(config, arch);
        if (problems.Count > 0)
            throw new MoePruneException($"{source}: cannot export to GGUF ({arch.Name}): {string.Join("; ", problems)}", problems);
    }
}
