using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.IO;

/// <summary>Reads JSON files with one-line errors naming the file, and writes them atomically.</summary>
public static class JsonFile
{
    static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        IndentSize = 2,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Parses <paramref name="path"/>, which must hold a JSON object.</summary>
    public static JsonObject ReadObject(string path)
    {
        var node = ReadNode(path);
        return node as JsonObject ?? throw new MoePruneException($"{path}: expected a JSON object, found {Kind(node)}");
    }

    /// <summary>Parses <paramref name="path"/> as any JSON value (null for the literal <c>null</c>).</summary>
    public static JsonNode? ReadNode(string path)
    {
        if (!File.Exists(path))
            throw new MoePruneException($"{path}: file not found");
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MoePruneException($"{path}: cannot read ({e.Message})", inner: e);
        }
        try
        {
            var node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
            return node;
        }
        catch (JsonException e)
        {
            string line = e.LineNumber is long l ? $"line {l + 1}, column {(e.BytePositionInLine ?? 0) + 1}: " : "";
            throw new MoePruneException($"{path}: not valid JSON ({line}{FirstSentence(e.Message)})", inner: e);
        }
    }

    /// <summary>Writes <paramref name="node"/> indented by two spaces with a final newline, via a temporary file and a rename.</summary>
    public static void WriteAtomic(string path, JsonNode node)
    {
        string text = node.ToJsonString(WriteOptions) + "\n";
        AtomicFile.Write(path, stream =>
        {
            var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text);
            stream.Write(bytes);
        });
    }

    static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "an array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            _ => "a boolean",
        },
        _ => "something else",
    };

    /// <summary>System.Text.Json messages end with the position again ("Path: $ | LineNumber: …"); drop that part.</summary>
    static string FirstSentence(string message)
    {
        foreach (var marker in new[] { " Path:", " LineNumber:" })
        {
            int cut = message.IndexOf(marker, StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
        }
        return message.TrimEnd('.', ' ');
    }
}
