using System.Globalization;
using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models.Families;

namespace MoePrune.Models;

/// <summary>
/// The family-specific lines of <see cref="ModelInfo"/>: attention (MLA sizes, QK-norm, partial rotary), RoPE scaling,
/// group-limited routing, MTP layers and block-FP8 storage — each only where the checkpoint has it.
/// </summary>
internal static class ModelInfoDetails
{
    public static (List<(string, string)> Lines, JsonObject Json) Describe(MoeConfig config, MoeForCausalLM model, CheckpointDirectory checkpoint)
    {
        var lines = new List<(string, string)>();
        var json = new JsonObject();
        if (config.Mla is { } mla)
        {
            lines.Add(("attention", $"MLA, {config.NumAttentionHeads} heads: q {(mla.QLoraRank is int qRank ? $"LoRA rank {qRank}" : "plain q_proj")}, "
                                    + $"kv LoRA rank {mla.KvLoraRank}, qk {mla.QkNopeHeadDim}+{mla.QkRopeHeadDim} (rope, {Layout(mla.RopeLayout)}), v {mla.VHeadDim}"));
            json["attention"] = new JsonObject
            {
                ["kind"] = "mla", ["heads"] = config.NumAttentionHeads, ["q_lora_rank"] = mla.QLoraRank, ["kv_lora_rank"] = mla.KvLoraRank,
                ["qk_nope_head_dim"] = mla.QkNopeHeadDim, ["qk_rope_head_dim"] = mla.QkRopeHeadDim, ["v_head_dim"] = mla.VHeadDim,
                ["rope_layout"] = Layout(mla.RopeLayout),
            };
        }
        else if (config.QkNorm != QkNormPlacement.None || config.PartialRotaryFactor != 1.0)
        {
            lines.Add(("attention", $"{config.NumAttentionHeads} heads / {config.NumKeyValueHeads} KV heads of {config.HeadDim}, "
                                    + $"QK-norm {config.QkNorm.ToString().ToLowerInvariant()}, RoPE on {config.RotaryDim} of {config.HeadDim} features"));
            json["attention"] = new JsonObject
            {
                ["kind"] = "gqa", ["heads"] = config.NumAttentionHeads, ["kv_heads"] = config.NumKeyValueHeads, ["head_dim"] = config.HeadDim,
                ["qk_norm"] = config.QkNorm.ToString().ToLowerInvariant(), ["rotary_dim"] = config.RotaryDim,
            };
        }
        if (config.Yarn is { } yarn)
        {
            lines.Add(("rope", $"YaRN factor {Num(yarn.Factor)} from {yarn.OriginalMaxPositions} positions, θ {Num(config.RopeTheta)}, "
                               + $"cos/sin × {Num(yarn.CosSinFactor)}" + (config.Mla is null ? "" : $", softmax scale × {Num(yarn.SoftmaxScaleFactor)}")));
            json["rope"] = new JsonObject
            {
                ["type"] = "yarn", ["factor"] = yarn.Factor, ["original_max_position_embeddings"] = yarn.OriginalMaxPositions,
                ["theta"] = config.RopeTheta, ["attention_factor"] = yarn.CosSinFactor, ["mscale_squared"] = yarn.SoftmaxScaleFactor,
            };
        }
        if (config.Family.BindGroupRouting is not null)
        {
            var g = config.Groups;
            string scoring = config.Family.RouterScoreCorrectionBias ? "sigmoid + e_score_correction_bias (noaux_tc)" : "softmax";
            string groups = g.IsGroupLimited ? $", {g.NGroup} groups of which {g.TopKGroup} ({(g.Scoring == GroupScoring.Max ? "group max" : "top-2 sum")})" : "";
            lines.Add(("routing", $"{scoring}{groups}, weights × {Num(g.RoutedScalingFactor)}{(config.NormTopKProb ? " after renormalising" : "")}"));
            json["routing"] = new JsonObject
            {
                ["scoring"] = config.Family.RouterScoreCorrectionBias ? "sigmoid" : "softmax", ["n_group"] = g.NGroup, ["topk_group"] = g.TopKGroup,
                ["group_limited"] = g.IsGroupLimited, ["routed_scaling_factor"] = g.RoutedScalingFactor, ["norm_topk_prob"] = config.NormTopKProb,
            };
        }
        if (config.NumMtpLayers > 0)
        {
            long mtp = model.CountMtpParameters();
            lines.Add(("mtp", $"{config.NumMtpLayers} layer(s) from {config.NumHiddenLayers} ({mtp:N0} parameters, {model.MtpLayout} head; not run)"));
            json["mtp"] = new JsonObject { ["layers"] = config.NumMtpLayers, ["parameters"] = mtp, ["head"] = model.MtpLayout.ToString() };
        }
        var fp8 = checkpoint.Tensors.Where(kv => kv.Value.Dtype == SafeDtype.F8_E4M3).ToList();
        if (fp8.Count > 0 && config.Fp8 is { } q)
        {
            long weightBytes = fp8.Sum(kv => kv.Value.Bytes);
            long scaleBytes = fp8.Sum(kv => checkpoint.Tensors.TryGetValue(kv.Key + Quantization.Fp8.Fp8Weights.ScaleSuffix, out var s) ? s.Bytes : 0);
            lines.Add(("fp8", $"{fp8.Count} F8_E4M3 weights in {q.BlockRows}x{q.BlockCols} blocks ({q.ScaleFormat} scales), "
                              + $"{weightBytes:N0} bytes + {scaleBytes:N0} bytes of scales; loaded by dequantizing, exported as FP8"));
            json["fp8"] = new JsonObject
            {
                ["weights"] = fp8.Count, ["block"] = new JsonArray(q.BlockRows, q.BlockCols), ["scale_format"] = q.ScaleFormat.ToString(),
                ["weight_bytes"] = weightBytes, ["scale_bytes"] = scaleBytes,
            };
        }
        return (lines, json);
    }

    static string Layout(RopeLayout layout) => layout == RopeLayout.Interleaved ? "adjacent pairs" : "halves";

    static string Num(double x) => x.ToString("0.######", CultureInfo.InvariantCulture);
}
