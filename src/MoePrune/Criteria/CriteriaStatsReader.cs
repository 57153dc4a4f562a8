using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace MoePrune.Criteria;

/// <summary>Reads the tensors of one <see cref="CriteriaStatsFile"/> back into <see cref="LayerStats"/>.</summary>
internal sealed class CriteriaStatsReader(string path, FileStream fs, long dataStart, JsonObject header)
{
    public LayerStats ReadLayer(string set, JsonObject m)
    {
        int Int(string key) => m[key]!.GetValue<int>();
        var s = new LayerStats(Int("index"), Int("experts"), Int("top_k")) { Tokens = m["tokens"]!.GetValue<long>() };
        string p = $"{set}.layers.{s.LayerIndex}.";
        Read(p + "count", s.Count);
        Read(p + "co_select", s.CoSelect);
        if (m["has_token_sets"]!.GetValue<bool>())
        {
            s.EnableTokenSets(Int("vocab_size"));
            for (int e = 0; e < s.NumExperts; e++) Read(p + $"token_set.{e}", s.TokenSets![e]);
        }
        if (m["has_activations"]!.GetValue<bool>())
        {
            s.EnableActivations(Int("hidden_size"));
            Read(p + "sum_y", s.SumY!);
            Read(p + "sum_y2", s.SumY2!);
            Read(p + "sum_unit", s.SumUnit!);
            Read(p + "sum_norm", s.SumNorm!);
            Read(p + "sum_gate_norm", s.SumGateNorm!);
            Read(p + "outliers", s.Outliers!);
        }
        if (m["has_gradients"]!.GetValue<bool>())
        {
            s.EnableGradients(Int("grad_intermediate"), Int("grad_hidden"));
            s.GradSteps = m["grad_steps"]!.GetValue<long>();
            for (int e = 0; e < s.NumExperts; e++) Read(p + $"grad.{e}", s.GradSum![e]);
        }
        if (m["has_naee"]!.GetValue<bool>())
        {
            s.EnableNaee(Int("naee_cap"), Int("naee_hidden"));
            s.NaeeRows = Int("naee_rows");
            Read(p + "naee_inputs", s.NaeeInputs.AsSpan(0, s.NaeeRows * s.NaeeHidden));
        }
        return s;
    }

    private void Read<T>(string name, T[] into) where T : unmanaged => Read(name, into.AsSpan());

    private void Read<T>(string name, Span<T> into) where T : unmanaged
    {
        if (header[name] is not JsonObject entry)
            throw new MoePruneException($"{path}: tensor '{name}' missing");
        var offsets = entry["data_offsets"]!.AsArray();
        long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
        var bytes = MemoryMarshal.AsBytes(into);
        if (end - begin != bytes.Length || dataStart + end > fs.Length)
            throw new MoePruneException($"{path}: tensor '{name}' has {end - begin} bytes, expected {bytes.Length} within the file");
        fs.Seek(dataStart + begin, SeekOrigin.Begin);
        fs.ReadExactly(bytes);
    }
}
