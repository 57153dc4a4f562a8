using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Criteria;

/// <summary>
/// Stores <see cref="CriteriaStats"/> in the safetensors layout: 8-byte little-endian header length, a
/// JSON header mapping tensor names to dtype/shape/byte range, then the raw little-endian data. The
/// header's <c>__metadata__["moeprune.criteria_stats"]</c> holds a JSON string with the criteria, the
/// calibration description, and per statistics set (all sources, then each source) every layer's sizes
/// and token counts. Tensor names: <c>{set}.layers.{l}.{part}</c> with set = "all" or "source.{name}".
/// </summary>
public static class CriteriaStatsFile
{
    private const string MetaKey = "moeprune.criteria_stats";
    private const int FormatVersion = 1;

    /// <summary>Writes atomically: a temporary file in the same folder, renamed at the end.</summary>
    public static void Save(CriteriaStats stats, string path)
    {
        var blobs = new List<(string Name, string Dtype, long[] Shape, Array Data)>();
        var sets = new JsonArray { SetMeta("all", stats.Layers, blobs) };
        foreach (var (source, layers) in stats.Sources)
            sets.Add(SetMeta("source." + source, layers, blobs));
        var meta = new JsonObject
        {
            ["version"] = FormatVersion,
            ["criteria"] = new JsonArray(stats.Criteria.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
            ["calibration"] = stats.Calibration,
            ["tokens"] = stats.Tokens,
            ["sets"] = sets,
        };
        var header = new JsonObject { ["__metadata__"] = new JsonObject { [MetaKey] = meta.ToJsonString() } };
        long offset = 0;
        foreach (var b in blobs)
        {
            long size = ByteLength(b.Data);
            header[b.Name] = new JsonObject
            {
                ["dtype"] = b.Dtype,
                ["shape"] = new JsonArray(b.Shape.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - headerBytes.Length % 8) % 8;
        var tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            {
                fs.Write(BitConverter.GetBytes((ulong)(headerBytes.Length + pad)));
                fs.Write(headerBytes);
                for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
                foreach (var b in blobs) WriteArray(fs, b.Data);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            throw;
        }
    }

    public static CriteriaStats Load(string path)
    {
        if (!File.Exists(path))
            throw new MoePruneException($"{path}: criteria statistics file not found");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read);
        var lenBytes = new byte[8];
        if (fs.Read(lenBytes) != 8)
            throw new MoePruneException($"{path}: too short for a criteria statistics file");
        ulong headerLen = BitConverter.ToUInt64(lenBytes);
        if (headerLen > (ulong)(fs.Length - 8))
            throw new MoePruneException($"{path}: header length {headerLen} exceeds the file size {fs.Length}");
        var headerBytes = new byte[headerLen];
        fs.ReadExactly(headerBytes);
        JsonObject header;
        JsonObject meta;
        try
        {
            header = JsonNode.Parse(headerBytes)!.AsObject();
            meta = JsonNode.Parse(header["__metadata__"]![MetaKey]!.GetValue<string>())!.AsObject();
        }
        catch (Exception ex) when (ex is JsonException or NullReferenceException or InvalidOperationException)
        {
            throw new MoePruneException($"{path}: not a MoePrune criteria statistics file ({ex.Message})", inner: ex);
        }
        if (meta["version"]?.GetValue<int>() != FormatVersion)
            throw new MoePruneException($"{path}: unsupported criteria statistics version {meta["version"]}");
        var reader = new CriteriaStatsReader(path, fs, 8 + (long)headerLen, header);
        var stats = new CriteriaStats { Calibration = meta["calibration"]?.GetValue<string>() ?? "" };
        stats.Criteria.AddRange(meta["criteria"]!.AsArray().Select(c => c!.GetValue<string>()));
        foreach (var set in meta["sets"]!.AsArray())
        {
            var name = set!["name"]!.GetValue<string>();
            var layers = name == "all" ? stats.Layers : stats.Sources[name["source.".Length..]] = [];
            foreach (var layerMeta in set["layers"]!.AsArray())
            {
                var layer = reader.ReadLayer(name, layerMeta!.AsObject());
                layers[layer.LayerIndex] = layer;
            }
        }
        return stats;
    }

    private static JsonObject SetMeta(string set, SortedDictionary<int, LayerStats> layers,
        List<(string Name, string Dtype, long[] Shape, Array Data)> blobs)
    {
        var arr = new JsonArray();
        foreach (var (index, s) in layers)
        {
            string p = $"{set}.layers.{index}.";
            int e = s.NumExperts;
            blobs.Add((p + "count", "I64", [e], s.Count));
            blobs.Add((p + "co_select", "I64", [e, e], s.CoSelect));
            if (s.TokenSets is { } sets)
                for (int x = 0; x < e; x++) blobs.Add((p + $"token_set.{x}", "U64", [sets[x].Length], sets[x]));
            if (s.HasActivations)
            {
                long h = s.HiddenSize;
                blobs.Add((p + "sum_y", "F64", [e, h], s.SumY!));
                blobs.Add((p + "sum_y2", "F64", [e, h], s.SumY2!));
                blobs.Add((p + "sum_unit", "F64", [e, h], s.SumUnit!));
                blobs.Add((p + "sum_norm", "F64", [e], s.SumNorm!));
                blobs.Add((p + "sum_gate_norm", "F64", [e], s.SumGateNorm!));
                blobs.Add((p + "outliers", "I64", [e], s.Outliers!));
            }
            if (s.GradSum is { } grads)
                for (int x = 0; x < e; x++) blobs.Add((p + $"grad.{x}", "F32", [grads[x].Length], grads[x]));
            if (s.HasNaee)
                blobs.Add((p + "naee_inputs", "F32", [s.NaeeRows, s.NaeeHidden], s.NaeeInputs.AsMemory(0, s.NaeeRows * s.NaeeHidden).ToArray()));
            arr.Add(new JsonObject
            {
                ["index"] = index, ["experts"] = e, ["top_k"] = s.TopK, ["tokens"] = s.Tokens,
                ["vocab_size"] = s.VocabSize, ["hidden_size"] = s.HiddenSize,
                ["grad_intermediate"] = s.GradIntermediateSize, ["grad_hidden"] = s.GradHiddenSize, ["grad_steps"] = s.GradSteps,
                ["naee_cap"] = s.NaeeCap, ["naee_rows"] = s.NaeeRows, ["naee_hidden"] = s.NaeeHidden,
                ["has_token_sets"] = s.HasTokenSets, ["has_activations"] = s.HasActivations,
                ["has_gradients"] = s.HasGradients, ["has_naee"] = s.HasNaee,
            });
        }
        return new JsonObject { ["name"] = set, ["layers"] = arr };
    }

    private static long ByteLength(Array a) => (long)a.Length * ElementSize(a);

    private static int ElementSize(Array a) => a switch
    {
        long[] or ulong[] or double[] => 8,
        float[] => 4,
        _ => throw new InvalidOperationException($"unsupported array type {a.GetType()}"),
    };

    private static void WriteArray(Stream s, Array a)
    {
        switch (a)
        {
            case long[] l: s.Write(MemoryMarshal.AsBytes(l.AsSpan())); break;
            case ulong[] u: s.Write(MemoryMarshal.AsBytes(u.AsSpan())); break;
            case double[] d: s.Write(MemoryMarshal.AsBytes(d.AsSpan())); break;
            case float[] f: s.Write(MemoryMarshal.AsBytes(f.AsSpan())); break;
        }
    }
}
