using System.Text.Json.Nodes;

namespace MoePrune.Models.Families;

/// <summary>
/// Config binding shared by the DeepSeek-V2, DeepSeek-V3 / Kimi-K2 and GLM-4.5 families: their keys, MLA dimensions,
/// group routing and the combinations refused by name (docs/DESIGN-deepseek.md, "Disagreements").
/// </summary>
internal static class DeepseekRules
{
    /// <summary>The DeepSeek-style keys an MLA family reads.</summary>
    public static readonly string[] MlaKeys =
    [
        "n_routed_experts", "n_shared_experts", "first_k_dense_replace", "routed_scaling_factor", "topk_method",
        "scoring_func", "n_group", "topk_group", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
        "v_head_dim", "moe_layer_freq",
    ];

    /// <summary>The DeepSeek-style keys GLM-4.5 reads (no MLA).</summary>
    public static readonly string[] GlmKeys =
    [
        "n_routed_experts", "n_shared_experts", "first_k_dense_replace", "routed_scaling_factor", "topk_method",
        "scoring_func", "n_group", "topk_group",
    ];

    /// <summary>DeepSeek's shared experts: one ungated MLP of width moe_intermediate_size × n_shared_experts, always added.</summary>
    public static SharedExpertSpec SharedExperts(int defaultCount) =>
        new("shared_experts", "moe_intermediate_size", ("gate_proj", "up_proj", "down_proj"), GateName: null,
            CountKey: "n_shared_experts", DefaultCount: defaultCount);

    /// <summary>
    /// MLA dimensions with the defaults of transformers' configuration classes; <c>q_lora_rank: null</c> selects
    /// <c>q_proj</c>. V2 always rotates adjacent pairs; V3 does with <c>rope_interleave</c> (default true).
    /// </summary>
    public static MlaSpec BindMla(ConfigReader c, bool v3)
    {
        int? qLora = c.Json.ContainsKey("q_lora_rank") ? c.OptionalInt("q_lora_rank") : 1536;
        if (qLora is int q) c.Check("q_lora_rank", q, 1);
        var layout = !v3 || c.Bool("rope_interleave", true) ? RopeLayout.Interleaved : RopeLayout.Half;
        return new MlaSpec(qLora,
            c.Check("kv_lora_rank", c.Int("kv_lora_rank", 512), 1),
            c.Check("qk_nope_head_dim", c.Int("qk_nope_head_dim", 128), 0),
            c.Check("qk_rope_head_dim", c.Int("qk_rope_head_dim", 64), 2),
            c.Check("v_head_dim", c.Int("v_head_dim", 128), 1),
            layout);
    }

    /// <summary><c>n_group</c> / <c>topk_group</c> (null = the default) and <c>routed_scaling_factor</c>, with the group score of the family.</summary>
    public static GroupRouting BindGroups(ConfigReader c, int defaultGroups, int defaultTopKGroups, double defaultScaling, GroupScoring scoring)
    {
        int groups = c.Check("n_group", c.Int("n_group", defaultGroups), 1);
        int topKGroups = c.Check("topk_group", c.Int("topk_group", defaultTopKGroups), 1, groups);
        double scaling = c.Double("routed_scaling_factor", defaultScaling);
        if (!(scaling > 0) || double.IsInfinity(scaling)) throw c.Unsupported("routed_scaling_factor", "must be a positive number");
        return new GroupRouting(groups, topKGroups, scoring, scaling);
    }

    /// <summary>Refuses <paramref name="key"/> when present with a string value other than <paramref name="allowed"/>.</summary>
    public static void RequireString(ConfigReader c, string key, string why, params string[] allowed)
    {
        if (c.String(key) is string value && !allowed.Contains(value)) throw c.Unsupported(key, why);
    }

    /// <summary>Refuses a boolean key set to true.</summary>
    public static void RefuseTrue(ConfigReader c, string key, string why)
    {
        if (c.Bool(key, false)) throw c.Unsupported(key, why);
    }

    /// <summary>The sizes tiny checkpoints give MLA families (with 4 query heads, so num_key_value_heads = 4).</summary>
    public static IReadOnlyList<(string, JsonNode)> TinyMlaKeys(params (string, JsonNode)[] more) =>
    [
        ("num_key_value_heads", 4), ("q_lora_rank", 16), ("kv_lora_rank", 16), ("qk_nope_head_dim", 8),
        ("qk_rope_head_dim", 8), ("v_head_dim", 12), ("n_group", 1), ("topk_group", 1), .. more,
    ];
}
