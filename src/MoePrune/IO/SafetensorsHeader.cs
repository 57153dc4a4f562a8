using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace MoePrune.IO;

/// <summary>
/// The parsed and validated header of a safetensors file: an 8-byte little-endian header length,
/// then that many bytes of JSON (<c>{"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}</c>),
/// then the data section that the offsets index into.
/// </summary>
sealed class SafetensorsHeader
{
    /// <summary>Largest header accepted; real headers are well below 10 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public required IReadOnlyList<TensorEntry> Entries { get; init; }     // sorted by data offset
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    public required long DataStart { get; init; }                         // file offset of the data section
    public required byte[] Json { get; init; }                            // the header bytes as stored (after the length)

    public static SafetensorsHeader Read(SafeFileHandle file, string path)
    {
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < 8)
            throw new MoePruneException($"{path}: file is {fileLength} bytes, too short for a safetensors header");
        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(file, lengthBytes, 0, path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
            throw new MoePruneException($"{path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file?)");
        if (8 + (long)headerLength > fileLength)
            throw new MoePruneException($"{path}: header length {headerLength} exceeds the file size {fileLength}");

        var json = new byte[headerLength];
        ReadExactly(file, json, 8, path);
        long dataStart = 8 + (long)headerLength;
        var (entries, metadata) = ParseJson(json, path);
        Validate(entries, fileLength - dataStart, path);
        return new SafetensorsHeader { Entries = entries, Metadata = metadata, DataStart = dataStart, Json = json };
    }

    static (List<TensorEntry>, Dictionary<string, string>) ParseJson(byte[] json, string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new MoePruneException($"{path}: header is not valid JSON ({e.Message})", inner: e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new MoePruneException($"{path}: header is not a JSON object");
            var entries = new List<TensorEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new MoePruneException($"{path}: duplicate tensor name \"{prop.Name}\" in the header");
                if (prop.Name == "__metadata__")
                    ReadMetadata(prop.Value, metadata, path);
                else
                    entries.Add(ReadEntry(prop.Name, prop.Value, path));
            }
            return (entries, metadata);
        }
    }

    static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new MoePruneException($"{path}: __metadata__ is not a JSON object");
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new MoePruneException($"{path}: __metadata__ value \"{p.Name}\" is not a string");
            metadata[p.Name] = p.Value.GetString()!;
        }
    }

    static TensorEntry ReadEntry(string name, JsonElement value, string path)
    {
        string where = $"{path}: tensor \"{name}\"";
        if (value.ValueKind != JsonValueKind.Object)
            throw new MoePruneException($"{where} is not a JSON object");
        if (!value.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new MoePruneException($"{where} has no string \"dtype\"");
        var dtype = SafeDtypes.Parse(dtypeEl.GetString()!, $"{path}: tensor \"{name}\"");
        long[] shape = ReadLongs(value, "shape", where);
        long[] offsets = ReadLongs(value, "data_offsets", where);
        if (offsets.Length != 2)
            throw new MoePruneException($"{where}: data_offsets must have 2 entries, not {offsets.Length}");
        if (offsets[1] < offsets[0])
            throw new MoePruneException($"{where}: data_offsets [{offsets[0]}, {offsets[1]}] end before they begin");
        var entry = new TensorEntry(name, dtype, shape, offsets[0], offsets[1]);
        long expected;
        try
        {
            expected = checked(entry.Elements * SafeDtypes.SizeOf(dtype));
        }
        catch (OverflowException)
        {
            throw new MoePruneException($"{where}: shape [{string.Join(", ", shape)}] is too large");
        }
        if (expected != entry.Bytes)
            throw new MoePruneException(
                $"{where}: byte length {entry.Bytes} does not match shape [{string.Join(", ", shape)}] x {dtype} ({expected} bytes)");
        return entry;
    }

    static long[] ReadLongs(JsonElement value, string key, string where)
    {
        if (!value.TryGetProperty(key, out var arr) || arr.ValueKind != JsonValueKind.Array)
            throw new MoePruneException($"{where} has no \"{key}\" array");
        var result = new long[arr.GetArrayLength()];
        int i = 0;
        foreach (var item in arr.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw new MoePruneException($"{where}: \"{key}\" must hold non-negative integers, found {item.GetRawText()}");
            result[i++] = v;
        }
        return result;
    }

    /// <summary>Every range lies inside the data section and no two non-empty ranges overlap; sorts by offset.</summary>
    static void Validate(List<TensorEntry> entries, long dataLength, string path)
    {
        foreach (var e in entries)
            if (e.End > dataLength)
                throw new MoePruneException(
                    $"{path}: tensor \"{e.Name}\" ends at data byte {e.End} but the data section has only {dataLength} bytes (file truncated?)");
        // A stable sort keeps header order for equal offsets (empty tensors).
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        TensorEntry? previous = null;
        foreach (var e in sorted)
        {
            if (e.Bytes == 0) continue;
            if (previous is not null && e.Begin < previous.End)
                throw new MoePruneException(
                    $"{path}: tensors \"{previous.Name}\" [{previous.Begin}, {previous.End}) and \"{e.Name}\" [{e.Begin}, {e.End}) overlap");
            previous = e;
        }
        entries.Clear();
        entries.AddRange(sorted);
    }

    static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset, string path)
    {
        while (buffer.Length > 0)
        {
            int n = RandomAccess.Read(file, buffer, offset);
            if (n == 0) throw new MoePruneException($"{path}: unexpected end of file at byte {offset}");
            buffer = buffer[n..];
            offset += n;
        }
    }
}
