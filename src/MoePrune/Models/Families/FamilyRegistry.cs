namespace MoePrune.Models.Families;

/// <summary>The supported families, looked up by config.json <c>model_type</c>.</summary>
public static class FamilyRegistry
{
    public static IReadOnlyList<ModelFamily> All { get; } =
    [
        MixtralFamily.Instance,
        Qwen2MoeFamily.Instance,
        Qwen3MoeFamily.Instance,
        OlmoeFamily.Instance,
        DeepseekV2Family.Instance,
        DeepseekV3Family.Instance,
        KimiK2Family.Instance,
        Glm4MoeFamily.Instance,
    ];

    /// <summary>The family of a <c>model_type</c>, or a one-line error naming the supported ones.</summary>
    public static ModelFamily Get(string? modelType, string source)
    {
        var family = All.FirstOrDefault(f => f.ModelType == modelType);
        if (family is not null) return family;
        var supported = string.Join(", ", All.Select(f => f.ModelType));
        throw new MoePruneException(modelType is null
            ? $"{source}: model_type is missing; supported: {supported}"
            : $"{source}: model_type \"{modelType}\" is not supported; supported: {supported}");
    }
}
