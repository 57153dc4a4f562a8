namespace MoePrune.Models.Families;

/// <summary>
/// A family's always-active shared expert(s) beside the routed ones: one SwiGLU MLP registered as
/// <paramref name="ModuleName"/> under the sparse block, of width <paramref name="IntermediateSizeKey"/>
/// (times <paramref name="CountKey"/> when shared experts are stacked into one MLP, as DeepSeek's
/// <c>shared_experts</c> of width moe_intermediate_size × n_shared_experts; <paramref name="DefaultCount"/> when the key is
/// absent), and, when
/// <paramref name="GateName"/> is set, scaled per token by sigmoid(gate(x)) with a (1, H) linear of that name
/// (Qwen2-MoE's <c>shared_expert_gate</c>). Surgery never touches it.
/// </summary>
public sealed record SharedExpertSpec(
    string ModuleName,
    string IntermediateSizeKey,
    (string Gate, string Up, string Down) ProjNames,
    string? GateName,
    string? CountKey = null,
    int? DefaultCount = null)
{
    /// <summary>The MLP width from the config: the size key, times the count key when there is one.</summary>
    public int Width(ConfigReader config)
    {
        int size = config.Check(IntermediateSizeKey, config.Int(IntermediateSizeKey), 1);
        if (CountKey is null) return size;
        int count = DefaultCount is int d ? config.Int(CountKey, d) : config.Int(CountKey);
        return size * config.Check(CountKey, count, 1);
    }
}
