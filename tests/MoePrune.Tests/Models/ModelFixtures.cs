using MoePrune.IO;
using MoePrune.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>
/// The committed reference checkpoints of fixtures/models (written by make_reference.py, an eager PyTorch
/// transcription of transformers' modeling files) and their expected outputs.
/// </summary>
static class ModelFixtures
{
    public static readonly string[] Cases =
    [
        "mixtral_fp32", "mixtral_window_fused_sharded", "qwen2_moe_dense_tied_sharded", "qwen2_moe_sparse_step_bf16",
        "qwen3_moe_rope_parameters_fused", "qwen3_moe_bf16_tied", "olmoe_clip_fp32", "olmoe_bf16",
    ];

    public static string Dir(string name)
    {
        TorchNative.EnsureLoaded();
        return Path.Combine(AppContext.BaseDirectory, "fixtures", "models", name);
    }

    /// <summary>Expected tensors of a case: input_ids, logits, router_logits.{layer}, router_probs.{layer}, topk.{layer}, mean_nll.</summary>
    public static Dictionary<string, Tensor> Expected(string name)
    {
        using var file = SafetensorsFile.Open(Path.Combine(Dir(name), "expected.safetensors"));
        return file.Tensors.Keys.ToDictionary(k => k, k => file.Read(k));
    }

    /// <summary>max |a − b| / max(1, |b|) elementwise.</summary>
    public static double MaxRelDiff(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var a32 = a.to(ScalarType.Float64);
        var b32 = b.to(ScalarType.Float64);
        return ((a32 - b32).abs() / b32.abs().clamp_min(1.0)).max().item<double>();
    }

    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
    }
}
