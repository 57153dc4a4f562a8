using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using MoePrune.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// Collects one statistic's sizes (a JSON object) and tensors (named <c>{prefix}{part}</c>) for the statistics
/// file. Tensors are CPU copies of the managed arrays; the file writer disposes them.
/// </summary>
public sealed class StatisticWriter(string prefix, List<KeyValuePair<string, Tensor>> tensors)
{
    public JsonObject Sizes { get; } = [];

    public void Size(string key, long value) => Sizes[key] = value;

    /// <summary>Adds <paramref name="values"/> as an F64 tensor of <paramref name="shape"/> (flat when none is given).</summary>
    public void Doubles(string part, double[] values, params long[] shape) =>
        Add(part, torch.tensor(values, Shape(values.Length, shape)));                      // (shape) fp64 copy

    public void Floats(string part, float[] values, params long[] shape) =>
        Add(part, torch.tensor(values, Shape(values.Length, shape)));                      // (shape) fp32 copy

    public void Longs(string part, long[] values, params long[] shape) =>
        Add(part, torch.tensor(values, Shape(values.Length, shape)));                      // (shape) int64 copy

    private static long[] Shape(long length, long[] shape) => shape.Length == 0 ? [length] : shape;

    private void Add(string part, Tensor t) => tensors.Add(new(prefix + part, t));
}

/// <summary>
/// Reads one statistic back: its sizes from the file's metadata and its tensors from the safetensors file,
/// each checked for dtype and element count, with one-line errors naming the file and the tensor.
/// </summary>
public sealed class StatisticReader(SafetensorsFile file, string prefix, JsonObject sizes, StatisticContext context)
{
    /// <summary>The layer's shape (the sizes the statistic was stored with are in <see cref="Size"/>).</summary>
    public StatisticContext Context => context;

    public long Size(string key) => sizes[key] is JsonValue v && v.TryGetValue(out long n)
        ? n
        : throw new MoePruneException($"{file.Path}: statistic {prefix.TrimEnd('.')}: size '{key}' missing");

    public int IntSize(string key) => checked((int)Size(key));

    public double[] Doubles(string part, long length) => Copy<double>(part, length, SafeDtype.F64);

    public float[] Floats(string part, long length) => Copy<float>(part, length, SafeDtype.F32);

    public long[] Longs(string part, long length) => Copy<long>(part, length, SafeDtype.I64);

    private T[] Copy<T>(string part, long length, SafeDtype dtype) where T : unmanaged
    {
        string name = prefix + part;
        if (!file.Tensors.TryGetValue(name, out var entry))
            throw new MoePruneException($"{file.Path}: tensor '{name}' missing");
        if (entry.Dtype != dtype || entry.Elements != length)
            throw new MoePruneException($"{file.Path}: tensor '{name}' is {entry.Dtype} with {entry.Elements} values, expected {dtype} with {length}");
        if (length == 0) return [];
        using var t = file.Read(name);                                                      // stored shape, stored dtype
        return MemoryMarshal.Cast<byte, T>(t.bytes).ToArray();
    }
}
