using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Models;

/// <summary>
/// Typed reads of config.json values; a wrong type or an out-of-range value is a one-line
/// <see cref="MoePruneException"/> naming the file and key.
/// </summary>
public sealed class ConfigReader(JsonObject json, string source)
{
    public JsonObject Json { get; } = json;
    public string Source { get; } = source;

    /// <summary>True when the key is present with a non-null value.</summary>
    public bool Has(string key) => Json[key] is not null;

    public int Int(string key) => Has(key) ? Int(key, 0) : throw Missing(key);

    public int Int(string key, int fallback)
    {
        var node = Json[key];
        if (node is null) return fallback;
        if (AsNumber(node) is double x && x == Math.Floor(x) && Math.Abs(x) <= int.MaxValue) return (int)x;
        throw Bad(key, "an integer");
    }

    public int? OptionalInt(string key) => Has(key) ? Int(key, 0) : null;

    public double Double(string key, double fallback)
    {
        var node = Json[key];
        if (node is null) return fallback;
        return AsNumber(node) ?? throw Bad(key, "a number");
    }

    public double? OptionalDouble(string key) => Has(key) ? Double(key, 0) : null;

    public bool Bool(string key, bool fallback)
    {
        var node = Json[key];
        if (node is null) return fallback;
        if (node.GetValueKind() is JsonValueKind.True or JsonValueKind.False) return node.GetValue<bool>();
        throw Bad(key, "true or false");
    }

    public string? String(string key)
    {
        var node = Json[key];
        if (node is null) return null;
        if (node.GetValueKind() == JsonValueKind.String) return node.GetValue<string>();
        throw Bad(key, "a string");
    }

    public IReadOnlyList<int>? IntList(string key)
    {
        var node = Json[key];
        if (node is null) return null;
        if (node is not JsonArray arr) throw Bad(key, "a list of integers");
        var list = new List<int>(arr.Count);
        foreach (var item in arr)
        {
            if (item is not null && AsNumber(item) is double x && x == Math.Floor(x) && Math.Abs(x) <= int.MaxValue) list.Add((int)x);
            else throw Bad(key, "a list of integers");
        }
        return list;
    }

    /// <summary>A JSON number (parsed or built in code) as a double; null for any other kind.</summary>
    private static double? AsNumber(JsonNode node) =>
        node.GetValueKind() == JsonValueKind.Number
        && double.TryParse(node.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x)
            ? x : null;

    /// <summary>Requires min ≤ value (and ≤ max when given).</summary>
    public int Check(string key, int value, int min, int max = int.MaxValue)
    {
        if (value < min || value > max)
            throw new MoePruneException(max == int.MaxValue
                ? $"{Source}: {key} = {value} must be at least {min}"
                : $"{Source}: {key} = {value} must be between {min} and {max}");
        return value;
    }

    public MoePruneException Missing(string key) => new($"{Source}: required key {key} is missing");

    public MoePruneException Bad(string key, string expected) =>
        new($"{Source}: {key} must be {expected}, found {Json[key]?.ToJsonString() ?? "null"}");

    public MoePruneException Unsupported(string key, string why) =>
        new($"{Source}: {key} = {Json[key]?.ToJsonString() ?? "null"} is not supported ({why})");
}
