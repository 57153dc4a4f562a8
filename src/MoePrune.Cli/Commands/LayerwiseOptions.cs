using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Layerwise;

namespace MoePrune.Cli.Commands;

/// <summary>The options of commands that can run layer by layer (score, prune, merge, perplexity, eval), and how they report it.</summary>
public sealed class LayerwiseOptions
{
    public required Option<bool> Force { get; init; }
    public required Option<string?> Budget { get; init; }

    public static LayerwiseOptions Create() => new()
    {
        Force = new Option<bool>("--layerwise") { Description = "Run layer by layer (one decoder layer in memory at a time) even when the model fits in memory" },
        Budget = new Option<string?>("--memory-budget")
        {
            Description = "Memory the command may use, e.g. 48G (K, M, G, T = powers of 1024; default: the available memory, cgroup limit included). "
                        + "A model that does not fit runs layer by layer",
        },
    };

    public void AddTo(Command cmd)
    {
        cmd.Options.Add(Force);
        cmd.Options.Add(Budget);
    }

    public LayerwiseSettings Bind(ParseResult pr) => new()
    {
        Force = pr.GetValue(Force),
        MemoryBudget = pr.GetValue(Budget) is { } text ? MemoryBudget.Parse(text, CliOptionNames.Map[OptionNames.MemoryBudget]) : null,
    };

    /// <summary>The --json fields of a layer-by-layer run.</summary>
    public static JsonObject ToJson(LayerwiseSummary s) => new()
    {
        ["reason"] = s.Reason,
        ["memory_budget_bytes"] = s.BudgetBytes,
        ["largest_part_bytes"] = s.LargestUnitBytes,
        ["hidden_state_bytes"] = s.HiddenBytes,
        ["hidden_states_spilled"] = s.Spilled,
        ["bytes_read"] = s.BytesRead,
        ["read_seconds"] = Math.Round(s.ReadSeconds, 3),
        ["read_mb_per_second"] = Math.Round(s.ReadMegabytesPerSecond, 1),
        ["disk_sequential_mb_per_second"] = s.DiskMegabytesPerSecond is double d ? Math.Round(d, 1) : null,
    };

    /// <summary>One line: why layer by layer, what was read and how fast against the disk's own rate, where the hidden states lived.</summary>
    public static string Describe(LayerwiseSummary s)
    {
        string disk = s.DiskMegabytesPerSecond is double d ? $"; this disk reads {d:F0} MB/s sequentially, measured the same way" : "";
        string hidden = s.HiddenBytes == 0 ? "" : $"; hidden states {CheckpointSizes.Format(s.HiddenBytes)} {(s.Spilled ? "in a temporary file" : "in memory")}";
        return $"layer by layer ({s.Reason}): read {CheckpointSizes.Format(s.BytesRead)} in {s.ReadSeconds:F1} s ({s.ReadMegabytesPerSecond:F0} MB/s){disk}{hidden}";
    }
}
