using System.Text.Json.Nodes;

namespace MoePrune.Reports.Html;

/// <summary>pruning.json: the criterion and, per layer, the kept and removed original experts.</summary>
public sealed record PruningRecord(ReportInput Input, string? Criterion, IReadOnlyDictionary<int, (int[] Kept, int[] Removed)> Layers)
{
    public static PruningRecord Read(ReportInput input)
    {
        var layers = new SortedDictionary<int, (int[], int[])>();
        foreach (var (key, node) in input.Json["layers"]!.AsObject())
        {
            if (node is not JsonObject layer || layer["kept"] is not JsonArray kept) continue;
            layers[int.Parse(key)] = (kept.Select(v => (int)v!).ToArray(),
                                      (layer["removed"] as JsonArray ?? []).Select(v => (int)v!).ToArray());
        }
        return new PruningRecord(input, (string?)input.Json["criterion"], layers);
    }

    public IReadOnlyCollection<int> Removed(int layer) => Layers.TryGetValue(layer, out var l) ? l.Removed : [];
}
