using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>Reading tokenizer.json / tokenizer_config.json: files, and small typed accessors with one-line errors.</summary>
public static class TokenizerJson
{
    /// <summary>Reads a JSON file (transparently gunzipping <c>*.gz</c>) into a node; errors name the file.</summary>
    public static JsonNode ReadFile(string path)
    {
        if (!File.Exists(path)) throw new MoePruneException($"{path}: file not found");
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
                ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Parse(stream, path);
        }
        catch (IOException e) { throw new MoePruneException($"{path}: cannot read: {e.Message}", inner: e); }
        catch (InvalidDataException e) { throw new MoePruneException($"{path}: not a valid gzip file: {e.Message}", inner: e); }
    }

    public static JsonNode Parse(Stream stream, string source)
    {
        try
        {
            return JsonNode.Parse(stream, documentOptions: new JsonDocumentOptions { MaxDepth = 256 })
                ?? throw new MoePruneException($"{source}: JSON document is null");
        }
        catch (JsonException e) { throw new MoePruneException($"{source}: invalid JSON: {e.Message}", inner: e); }
    }

    public static JsonNode Parse(string json, string source)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        return Parse(stream, source);
    }

    internal static string TypeOf(JsonNode node, string source, string what) =>
        OptionalString(node, "type") ?? throw new MoePruneException($"{source}: {what} has no 'type'");

    internal static string? OptionalString(JsonNode? node, string key) =>
        node?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static bool? OptionalBool(JsonNode? node, string key) =>
        node?[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;

    internal static string RequiredString(JsonNode? node, string key, string source) =>
        OptionalString(node, key) ?? throw new MoePruneException($"{source}: '{key}' is missing in {node?.ToJsonString()}");

    /// <summary>The <c>pattern</c> of a Split/Replace: <c>{"String": s}</c> or <c>{"Regex": r}</c>.</summary>
    internal static ReplacePattern ReplacePattern(JsonNode node, string source)
    {
        var pattern = node["pattern"];
        if (OptionalString(pattern, "String") is string literal) return new ReplacePattern(literal, null);
        if (OptionalString(pattern, "Regex") is string regex)
        {
            try { return new ReplacePattern(null, new UnicodeRegex(regex)); }
            catch (ArgumentException e) { throw new MoePruneException($"{source}: regex /{regex}/ is not supported: {e.Message}", inner: e); }
        }
        throw new MoePruneException($"{source}: pattern is neither {{\"String\"}} nor {{\"Regex\"}}: {pattern?.ToJsonString()}");
    }

    /// <summary>A token named in tokenizer_config.json: a plain string or an AddedToken object with <c>content</c>.</summary>
    internal static string? ConfigToken(JsonNode? config, string key) =>
        config?[key] switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject o => OptionalString(o, "content"),
            _ => null,
        };
}
