using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Native;
using TorchSharp;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune native</c>: how TorchSharp's native backend was loaded (path, GLIBCXX patch, threads).</summary>
public static class NativeCommand
{
    public static Command Create()
    {
        var cmd = new Command("native", "Show how the TorchSharp native backend was loaded on this machine");
        cmd.SetAction(pr =>
        {
            TorchNative.EnsureLoaded();
            var plan = TorchNative.LastPlan;
            var obj = new JsonObject
            {
                ["library"] = TorchNative.LibraryPath,
                ["patch_decision"] = plan?.Decision.ToString(),
                ["patch_reason"] = plan?.Reason,
                ["weakened_versions"] = new JsonArray(plan?.Missing.Select(m => (JsonNode)m.Version).ToArray() ?? []),
                ["torch_threads"] = torch.get_num_threads(),
            };
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(obj);
            else
            {
                Console.WriteLine($"library          {obj["library"]}");
                Console.WriteLine($"GLIBCXX patch    {obj["patch_decision"]}: {obj["patch_reason"]}");
                Console.WriteLine($"torch threads    {obj["torch_threads"]}");
            }
            return 0;
        });
        return cmd;
    }
}
