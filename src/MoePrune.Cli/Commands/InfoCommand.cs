using System.CommandLine;
using MoePrune.Models;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune info [MODEL]</c>: architecture, experts, parameter counts and storage of a checkpoint.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var cmd = new Command("info", "Show a checkpoint's architecture, experts, parameters and storage (no weights are loaded)") { dir };
        cmd.SetAction(pr =>
        {
            var info = ModelInfo.Read(pr.Model(dir));
            if (pr.GetValue(GlobalOptions.Json)) { CliRunner.PrintJson(info.ToJson()); return 0; }
            var experts = info.ExpertsPerLayer.Distinct().Count() == 1
                ? $"{info.ExpertsPerLayer.FirstOrDefault()} per MoE layer"
                : string.Join(", ", info.ExpertsPerLayer);
            Console.WriteLine($"model type        {info.ModelType}");
            Console.WriteLine($"layers            {info.Layers} ({info.MoeLayers.Count} MoE: {Ranges(info.MoeLayers)})");
            Console.WriteLine($"experts           {experts}, top-{info.TopK}, {info.SharedExperts} shared");
            Console.WriteLine($"parameters        {info.TotalParameters:N0} total, {info.ActiveParameters:N0} active per token");
            Console.WriteLine($"storage           {string.Join(", ", info.BytesByDtype.Select(kv => $"{kv.Key} {Size(kv.Value)}"))}");
            Console.WriteLine($"shards            {info.Shards.Count} ({Size(info.TotalBytes)})");
            foreach (var (label, text) in info.Details) Console.WriteLine($"{label,-18}{text}");
            return 0;
        });
        return cmd;
    }

    static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1L << 20):F2} MiB";

    /// <summary>"0-3, 5, 7-9" for a sorted list of layer indices.</summary>
    static string Ranges(IReadOnlyList<int> layers)
    {
        var parts = new List<string>();
        for (int i = 0; i < layers.Count;)
        {
            int j = i;
            while (j + 1 < layers.Count && layers[j + 1] == layers[j] + 1) j++;
            parts.Add(i == j ? $"{layers[i]}" : $"{layers[i]}-{layers[j]}");
            i = j + 1;
        }
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }
}
