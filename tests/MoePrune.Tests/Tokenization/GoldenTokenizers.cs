using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using MoePrune.Tokenization;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// The committed golden fixtures of fixtures/tokenizers (made by tools/tokenizers/make_golden.mjs with the
/// JS reference @lenml/tokenizers): test strings, real tokenizer.json files (gzipped) and reference ids.
/// Tokenizers are loaded once per test run.
/// </summary>
static class GoldenTokenizers
{
    public static readonly string Root = Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers");
    static readonly ConcurrentDictionary<string, Lazy<HfTokenizer>> Loaded = new();

    /// <summary>
    /// A golden tokenizer; <paramref name="mlNet"/> runs byte-level BPE merges in Microsoft.ML.Tokenizers.
    /// A variant (a directory with patch.json) is its base tokenizer.json with the listed top-level
    /// sections replaced, exactly as make_golden.mjs built it for the reference.
    /// </summary>
    public static HfTokenizer Tokenizer(string name, bool mlNet = false) =>
        Loaded.GetOrAdd($"{name}/{mlNet}", _ => new Lazy<HfTokenizer>(() => Build(name, mlNet))).Value;

    static HfTokenizer Build(string name, bool mlNet)
    {
        string patchPath = Path.Combine(Root, name, "patch.json");
        if (!File.Exists(patchPath)) return HfTokenizer.Load(Path.Combine(Root, name, "tokenizer.json.gz"), useMlNetBpe: mlNet);
        var patch = JsonNode.Parse(File.ReadAllText(patchPath))!;
        string baseDir = Path.Combine(Root, patch["base"]!.GetValue<string>());
        var json = TokenizerJson.ReadFile(Path.Combine(baseDir, "tokenizer.json.gz")).AsObject();
        foreach (var (key, value) in patch["replace"]!.AsObject()) json[key] = value?.DeepClone();
        var config = TokenizerJson.ReadFile(Path.Combine(baseDir, "tokenizer_config.json"));
        return HfTokenizer.FromJsonNodes(json, config, patchPath, mlNet);
    }

    public static IReadOnlyList<string> Strings() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "strings.json")))!.AsArray().Select(s => s!.GetValue<string>()).ToList();

    public sealed record Case(int[] Ids, int[] IdsNoSpecial, string Decoded, string DecodedSkipSpecial);

    public static IReadOnlyList<Case> Cases(string name)
    {
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, name, "golden.json")))!;
        return golden["cases"]!.AsArray().Select(c => new Case(
            c!["ids"]!.AsArray().Select(x => (int)x!).ToArray(),
            c["ids_no_special"]!.AsArray().Select(x => (int)x!).ToArray(),
            c["decoded"]!.GetValue<string>(),
            c["decoded_skip_special"]!.GetValue<string>())).ToList();
    }

    /// <summary>A short printable form of a test string for failure messages.</summary>
    public static string Show(string s)
    {
        var shown = System.Text.Json.JsonSerializer.Serialize(s);
        return shown.Length > 80 ? shown[..80] + "…" : shown;
    }
}
