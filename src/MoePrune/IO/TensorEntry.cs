namespace MoePrune.IO;

/// <summary>
/// One tensor as described by a safetensors header: its dtype, shape and the byte range
/// [<paramref name="Begin"/>, <paramref name="End"/>) relative to the start of the data section.
/// </summary>
public sealed record TensorEntry(string Name, SafeDtype Dtype, long[] Shape, long Begin, long End)
{
    /// <summary>Byte length of the tensor data (End - Begin).</summary>
    public long Bytes => End - Begin;

    /// <summary>Number of elements: the product of the shape (1 for a scalar, 0 with a zero dimension).</summary>
    public long Elements => Shape.Aggregate(1L, (a, b) => checked(a * b));

    public override string ToString() => $"{Name} {Dtype}[{string.Join(", ", Shape)}] @{Begin}..{End}";
}
