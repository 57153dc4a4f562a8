using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>
/// The <c>post_processor</c> of a tokenizer.json for a single sequence: the special ids placed before
/// and after the encoded text when special tokens are requested. Supported: TemplateProcessing
/// (single template), ByteLevel (adds nothing), RobertaProcessing/BertProcessing (cls … sep) and
/// Sequence of those.
/// </summary>
public sealed class PostProcessor
{
    public IReadOnlyList<int> Prefix { get; }
    public IReadOnlyList<int> Suffix { get; }

    PostProcessor(IReadOnlyList<int> prefix, IReadOnlyList<int> suffix) { Prefix = prefix; Suffix = suffix; }

    public static readonly PostProcessor None = new([], []);

    public void Apply(List<int> ids, bool addSpecialTokens)
    {
        if (!addSpecialTokens) return;
        ids.InsertRange(0, Prefix);
        ids.AddRange(Suffix);
    }

    public static PostProcessor FromJson(JsonNode? node, Func<string, int?> idOf, string source)
    {
        if (node is null) return None;
        string type = TokenizerJson.TypeOf(node, source, "post_processor");
        switch (type)
        {
            case "ByteLevel":
                return None;
            case "TemplateProcessing":
                return FromTemplate(node, idOf, source);
            case "RobertaProcessing":
            case "BertProcessing":
                return new PostProcessor([PairId(node["cls"], idOf, source)], [PairId(node["sep"], idOf, source)]);
            case "Sequence":
                var parts = (node["processors"] as JsonArray ?? throw new MoePruneException($"{source}: post_processor Sequence has no 'processors' list"))
                    .Select(p => FromJson(p, idOf, source)).ToList();
                return new PostProcessor(parts.SelectMany(p => p.Prefix).ToList(), parts.SelectMany(p => p.Suffix).ToList());
            default:
                throw new MoePruneException($"{source}: unsupported post_processor type '{type}'");
        }
    }

    static PostProcessor FromTemplate(JsonNode node, Func<string, int?> idOf, string source)
    {
        var single = node["single"] as JsonArray ?? throw new MoePruneException($"{source}: TemplateProcessing has no 'single' template");
        var specials = node["special_tokens"] as JsonObject;
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;
        foreach (var item in single)
        {
            if (item?["Sequence"] is not null) { seenSequence = true; continue; }
            string name = item?["SpecialToken"]?["id"]?.GetValue<string>()
                ?? throw new MoePruneException($"{source}: TemplateProcessing item is neither Sequence nor SpecialToken: {item?.ToJsonString()}");
            var ids = specials?[name]?["ids"] is JsonArray arr
                ? arr.Select(x => (int)x!).ToList()
                : [idOf(name) ?? throw new MoePruneException($"{source}: TemplateProcessing special token '{name}' has no id")];
            (seenSequence ? suffix : prefix).AddRange(ids);
        }
        return new PostProcessor(prefix, suffix);
    }

    static int PairId(JsonNode? pair, Func<string, int?> idOf, string source) =>
        pair is JsonArray { Count: 2 } p ? (int)p[1]! : throw new MoePruneException($"{source}: post_processor cls/sep is not a [token, id] pair");
}
