using static TorchSharp.torch;

namespace MoePrune.Quantization.Fp8;

/// <summary>
/// Which weights of an in-memory model came from float8_e4m3fn, with the block scales they were stored with: the
/// model computes with their dequantized values, and an export writes them back as FP8. Re-encoding a loaded weight
/// with its own scale gives back the stored codes exactly (the model dtype's rounding, at most 2^-9 relative in bf16,
/// is far below half an FP8 step, 2^-4 relative), so untouched weights stay byte-identical; a weight whose values
/// changed since loading (fine-tuning) gets fresh scales (<see cref="Encode"/>). Owns its scale tensors.
/// </summary>
public sealed class Fp8Weights(Fp8QuantizationConfig config) : IDisposable
{
    /// <summary>The suffix of a weight's scale tensor: <c>…weight</c> → <c>…weight_scale_inv</c>.</summary>
    public const string ScaleSuffix = "_scale_inv";

    private readonly Dictionary<string, Tensor> _scales = [];

    public Fp8QuantizationConfig Config { get; } = config;

    /// <summary>The FP8 weight names.</summary>
    public IReadOnlyCollection<string> Names => _scales.Keys;

    public bool Contains(string weightName) => _scales.ContainsKey(weightName);

    /// <summary>The scale tensor's name for a weight.</summary>
    public static string ScaleName(string weightName) => weightName + ScaleSuffix;

    /// <summary>The float32 scale_inv (⌈out/b0⌉, ⌈in/b1⌉) recorded for <paramref name="weightName"/> (held, not copied).</summary>
    public Tensor ScaleInv(string weightName) =>
        _scales.TryGetValue(weightName, out var s) ? s : throw new KeyNotFoundException($"{weightName} is not an FP8 weight");

    /// <summary>Records <paramref name="weightName"/> as FP8 with a copy of <paramref name="scaleInv"/> (float32, detached, CPU).</summary>
    public void Add(string weightName, Tensor scaleInv)
    {
        var copy = scaleInv.detach().to(ScalarType.Float32, CPU, copy: true).DetachFromDisposeScope();
        if (_scales.Remove(weightName, out var old)) old.Dispose();
        _scales[weightName] = copy;
    }

    /// <summary>A copy holding the scales of the weights <paramref name="rename"/> maps (old name → new name), e.g. after surgery.</summary>
    public Fp8Weights Select(IEnumerable<(string From, string To)> rename)
    {
        var result = new Fp8Weights(Config);
        foreach (var (from, to) in rename) result.Add(to, ScaleInv(from));
        return result;
    }

    /// <summary>
    /// FP8 codes (uint8, the weight's shape) and float32 scale_inv of <paramref name="weight"/>: under the recorded scale
    /// when that reproduces the weight exactly in its own dtype (always for a weight unchanged since loading), else under
    /// fresh scales (<see cref="BlockFp8.Quantize"/> with the config's scale format).
    /// </summary>
    public (Tensor Codes, Tensor ScaleInv) Encode(string weightName, Tensor weight)
    {
        using var scope = NewDisposeScope();
        var (b0, b1) = (Config.BlockRows, Config.BlockCols);
        var recorded = ScaleInv(weightName);                                            // (R/b0, C/b1) fp32
        var codes = BlockFp8.QuantizeWithScale(weight, recorded, weightName, b0, b1);     // (R, C) uint8
        var back = BlockFp8.Dequantize(codes, recorded, weightName, b0, b1).to(weight.dtype); // (R, C) weight dtype
        if (back.equal(weight.detach().cpu()).all().item<bool>())
            return (codes.MoveToOuterDisposeScope(), recorded.clone().MoveToOuterDisposeScope());
        var (fresh, scale) = BlockFp8.Quantize(weight, weightName, Config.ScaleFormat, b0, b1);
        return (fresh.MoveToOuterDisposeScope(), scale.MoveToOuterDisposeScope());
    }

    /// <summary>The float32 values of FP8 <paramref name="codes"/> under <paramref name="scaleInv"/> with this config's blocks.</summary>
    public Tensor Dequantize(Tensor codes, Tensor scaleInv, string name) =>
        BlockFp8.Dequantize(codes, scaleInv, name, Config.BlockRows, Config.BlockCols);

    public void Dispose()
    {
        foreach (var s in _scales.Values) s.Dispose();
        _scales.Clear();
    }
}
