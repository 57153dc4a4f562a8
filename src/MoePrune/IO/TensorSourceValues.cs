using MoePrune.Quantization.Fp8;
using static TorchSharp.torch;

namespace MoePrune.IO;

/// <summary>Tensor values from any <see cref="ITensorSource"/>, FP8 weights dequantized with their block scales.</summary>
public static class TensorSourceValues
{
    /// <summary>
    /// The values of tensor <paramref name="name"/> in float32 (a new tensor the caller disposes): a numeric tensor
    /// converted, an F8_E4M3 weight dequantized with its <c>_scale_inv</c> and the config's block size.
    /// </summary>
    public static Tensor ReadFloat32(this ITensorSource source, string name)
    {
        if (!source.Tensors.TryGetValue(name, out var tensor))
            throw new MoePruneException($"{source.Description}: no tensor named \"{name}\"");
        using var scope = NewDisposeScope();
        if (tensor.Dtype != SafeDtype.F8_E4M3)
            return source.Read(name).to(ScalarType.Float32, copy: true).MoveToOuterDisposeScope();
        var q = source.Config.Fp8
                ?? throw new MoePruneException($"{source.Description}: {name} is F8_E4M3 but the config has no block-FP8 quantization_config");
        var codes = source.Read(name);                                                   // (R, C) uint8
        var scale = source.Read(Fp8Weights.ScaleName(name));                             // (R/b0, C/b1) fp32
        return BlockFp8.Dequantize(codes, scale, name, q.BlockRows, q.BlockCols).MoveToOuterDisposeScope();
    }
}
