using System.Text;

namespace MoePrune.IO.Gguf;

/// <summary>One metadata entry: a key, its GGUF type (for arrays, the element type) and its value.</summary>
public sealed record GgufEntry(string Key, GgufValueType Type, object Value, GgufValueType? ElementType = null);

/// <summary>
/// The ordered key/value metadata of a GGUF file. Keys are unique (llama.cpp refuses duplicates); each
/// adder fixes the on-disk type, because llama.cpp checks the type of every key it reads
/// (<c>uint32</c> counts, <c>float32</c> epsilons, <c>string</c> arrays for tokens, <c>int32</c> token types).
/// </summary>
public sealed class GgufMetadata
{
    private readonly List<GgufEntry> _entries = [];
    private readonly Dictionary<string, GgufEntry> _byKey = new(StringComparer.Ordinal);

    public IReadOnlyList<GgufEntry> Entries => _entries;

    public GgufEntry? this[string key] => _byKey.GetValueOrDefault(key);

    public GgufMetadata String(string key, string value) => Add(new(key, GgufValueType.String, value));
    public GgufMetadata UInt32(string key, uint value) => Add(new(key, GgufValueType.UInt32, value));
    public GgufMetadata Float32(string key, float value) => Add(new(key, GgufValueType.Float32, value));
    public GgufMetadata Bool(string key, bool value) => Add(new(key, GgufValueType.Bool, value));
    public GgufMetadata Strings(string key, IReadOnlyList<string> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.String));
    public GgufMetadata Int32s(string key, IReadOnlyList<int> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.Int32));
    public GgufMetadata Float32s(string key, IReadOnlyList<float> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.Float32));

    /// <summary>Adds every entry of <paramref name="other"/> (keys must not repeat).</summary>
    public GgufMetadata AddAll(GgufMetadata other)
    {
        foreach (var e in other.Entries) Add(e);
        return this;
    }

    private GgufMetadata Add(GgufEntry entry)
    {
        if (!_byKey.TryAdd(entry.Key, entry))
            throw new InvalidOperationException($"GGUF metadata key {entry.Key} written twice");
        _entries.Add(entry);
        return this;
    }

    /// <summary>Writes the entries in GGUF's little-endian encoding.</summary>
    internal void WriteTo(BinaryWriter w)
    {
        foreach (var e in _entries)
        {
            WriteString(w, e.Key);
            w.Write((uint)e.Type);
            if (e.Type != GgufValueType.Array) { WriteScalar(w, e.Type, e.Value); continue; }
            var elementType = e.ElementType!.Value;
            w.Write((uint)elementType);
            var items = ((System.Collections.IEnumerable)e.Value).Cast<object>().ToList();
            w.Write((ulong)items.Count);
            foreach (var item in items) WriteScalar(w, elementType, item);
        }
    }

    private static void WriteScalar(BinaryWriter w, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt32: w.Write((uint)value); break;
            case GgufValueType.Int32: w.Write((int)value); break;
            case GgufValueType.Float32: w.Write((float)value); break;
            case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            default: throw new NotSupportedException($"GGUF value type {type} is not written by MoePrune");
        }
    }

    /// <summary>GGUF string: uint64 byte length, then UTF-8 bytes (no terminator).</summary>
    internal static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
