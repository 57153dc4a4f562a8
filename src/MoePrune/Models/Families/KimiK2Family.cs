namespace MoePrune.Models.Families;

/// <summary>
/// Kimi-K2 (<c>model_type: kimi_k2</c>): DeepSeek-V3's weights and forward under their own model type (its
/// <c>auto_map</c> points at DeepSeek-V3 remote code; transformers has no kimi_k2 model type). Every rule is
/// <see cref="DeepseekV3Family"/>'s.
/// </summary>
public static class KimiK2Family
{
    public static ModelFamily Instance { get; } = DeepseekV3Family.Instance with { ModelType = "kimi_k2" };
}
