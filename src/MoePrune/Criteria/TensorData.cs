using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria;

/// <summary>Fast copies of CPU tensors into managed arrays (one memcpy instead of per-element access).</summary>
internal static class TensorData
{
    public static double[] Doubles(Tensor t) => Copy<double>(t, ScalarType.Float64);

    public static float[] Floats(Tensor t) => Copy<float>(t, ScalarType.Float32);

    public static long[] Longs(Tensor t) => Copy<long>(t, ScalarType.Int64);

    private static T[] Copy<T>(Tensor t, ScalarType type) where T : unmanaged
    {
        using var scope = torch.NewDisposeScope();
        var c = t.detach().to(type).cpu().contiguous();                                     // same values, dense layout
        return MemoryMarshal.Cast<byte, T>(c.bytes).ToArray();
    }
}
