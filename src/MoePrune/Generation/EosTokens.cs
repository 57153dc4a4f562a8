using System.Text.Json.Nodes;
using MoePrune.Models;

namespace MoePrune.Generation;

/// <summary>The end-of-sequence ids of a model directory, as transformers' <c>generate</c> finds them.</summary>
public static class EosTokens
{
    /// <summary>
    /// <c>eos_token_id</c> (an id or a list) of generation_config.json when that file names one, else of
    /// config.json, else the tokenizer's EOS token; empty when none is known.
    /// </summary>
    public static IReadOnlyCollection<int> Of(string modelDir, MoeConfig config, int? tokenizerEos)
    {
        var path = Path.Combine(modelDir, "generation_config.json");
        if (File.Exists(path))
        {
            var node = IO.JsonFile.ReadNode(path);
            if (Ids(node?["eos_token_id"], path) is { Count: > 0 } fromGeneration) return fromGeneration;
        }
        if (Ids(config.Source["eos_token_id"], config.Path) is { Count: > 0 } fromConfig) return fromConfig;
        return tokenizerEos is int id ? [id] : [];
    }

    private static List<int>? Ids(JsonNode? node, string source)
    {
        try
        {
            return node switch
            {
                null => null,
                JsonArray list => list.Select(n => n!.GetValue<int>()).ToList(),
                _ => [node.GetValue<int>()],
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new MoePruneException($"{source}: eos_token_id must be an integer or a list of integers");
        }
    }
}
