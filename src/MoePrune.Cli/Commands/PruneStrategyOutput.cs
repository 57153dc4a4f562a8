using System.Text.Json.Nodes;
using MoePrune.Jobs.Strategies;

namespace MoePrune.Cli.Commands;

/// <summary>Runs a strategy prune and prints each round (stderr while running; a summary table or one JSON object at the end).</summary>
public static class PruneStrategyOutput
{
    public static int Run(StrategyRequest request, bool json)
    {
        var result = StrategyJob.Run(request, progress: null, log: json ? null : line => Console.Error.WriteLine(line));
        if (json)
        {
            CliRunner.PrintJson(new JsonObject
            {
                ["out"] = request.OutDir, ["work"] = request.WorkDir, ["strategy"] = PruneStrategies.Name(request.Strategy),
                ["layers"] = result.Record["layers"]!.DeepClone(), ["rounds"] = result.Record["rounds"]!.DeepClone(),
            });
            return 0;
        }
        foreach (var round in result.Rounds)
        {
            var e = round["evaluation"];
            var ft = round["finetune"];
            string cut = string.Join("  ", round["layers"]!.AsObject().Select(l => $"L{l.Key}-[{string.Join(",", l.Value!["removed"]!.AsArray())}]"));
            Console.WriteLine($"round {round["round"]}: {cut}" +
                (ft is null ? "" : $"  fine-tune {ft["tokens"]} tokens, loss {(double?)ft["loss_first"]:F3} -> {(double?)ft["loss_final"]:F3}") +
                (e?["perplexity"] is JsonNode p ? $"  perplexity {(double)p:F2}" : "") +
                (e?["kl"]?["mean"] is JsonNode kl ? $"  KL {(double)kl:F4}" : ""));
        }
        foreach (var (layer, l) in result.Record["layers"]!.AsObject())
            Console.WriteLine($"layer {layer,3}: kept [{string.Join(",", l!["kept"]!.AsArray())}]  removed [{string.Join(",", l["removed"]!.AsArray())}]");
        Console.WriteLine(request.OutDir is null ? $"run folder {request.WorkDir}" : $"wrote {request.OutDir} (pruning.json lists every round)");
        return 0;
    }
}
