using MoePrune.IO;
using MoePrune.Native;
using TorchSharp;

namespace MoePrune.Tests.Quantization;

/// <summary>
/// fixtures/fp8, written by fixtures/models/fp8_e4m3.py (numpy bit arithmetic, no MoePrune code): the value of
/// every code, float32 inputs with their expected codes, and a 160x136 block-quantized weight (2x2 blocks of
/// 128, partial edges, one all-zero block) with its codes, scales and dequantized values.
/// </summary>
static class Fp8Fixtures
{
    public static string Dir
    {
        get
        {
            TorchNative.EnsureLoaded();
            return Path.Combine(AppContext.BaseDirectory, "fixtures", "fp8");
        }
    }

    /// <summary>The tensors of e4m3fn_cases.safetensors (caller disposes).</summary>
    public static Dictionary<string, torch.Tensor> Cases()
    {
        using var file = SafetensorsFile.Open(Path.Combine(Dir, "e4m3fn_cases.safetensors"));
        return file.Tensors.Keys.ToDictionary(k => k, k => file.Read(k));
    }
}
