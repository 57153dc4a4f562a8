using System.Text.Json.Nodes;
using MoePrune.IO.Gguf;
using MoePrune.Tests.IO;
using MoePrune.Tests.Tokenization;
using MoePrune.Tokenization;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Gguf;

/// <summary>
/// The tokenizer embedded in a GGUF file, run by llama.cpp: on every golden string of the real tokenizer.json
/// fixtures (and of models/default, through a full export), llama.cpp's ids (special tokens parsed, none added)
/// must equal MoePrune's <see cref="HfTokenizer.Encode"/> ids, and llama.cpp's BOS/EOS ids and add-BOS/EOS flags
/// must equal what the tokenizer's post-processor does.
/// </summary>
public class LlamaCppTokenizerTests(ITestOutputHelper output)
{
    [LlamaCppFact]
    public void Qwen3ByteLevelBpe() => CheckGolden("qwen3");

    [LlamaCppFact]
    public void DeepSeekV3ByteLevelBpe() => CheckGolden("deepseek_v3");

    [LlamaCppFact]
    public void Llama2SentencePieceBpe() => CheckGolden("llama2");

    [LlamaCppFact]
    public void TrainedByteLevelBpe() => CheckGolden("trained");

    [LlamaCppFact]
    public void DefaultModelExportEmbedsItsTokenizer()
    {
        using var temp = new TempDir();
        string file = temp["default.gguf"];
        GgufExporter.ExportCheckpoint(DefaultModelFiles.Directory(), file);
        Compare("models/default", HfTokenizer.Load(DefaultModelFiles.Directory()), file, temp);
    }

    void CheckGolden(string name)
    {
        using var temp = new TempDir();
        var (json, config, source) = GoldenJson(name);
        var hf = HfTokenizer.Load(source);
        int vocab = hf.VocabSize + 3;                                        // padded, as a model's vocab_size often is
        var meta = new GgufMetadata().String("general.architecture", "llama").AddAll(GgufVocabulary.Build(json, config, source, vocab));
        string file = temp[$"{name}.gguf"];
        using (var writer = GgufWriter.Create(file, meta, [])) writer.Complete();
        Compare(name, hf, file, temp);
    }

    static int[] Ids(JsonNode? node) => node!.AsArray().Select(x => (int)x!).ToArray();

    /// <summary>tokenizer.json and tokenizer_config.json of a golden fixture.</summary>
    static (JsonNode Json, JsonNode? Config, string Source) GoldenJson(string name)
    {
        string dir = Path.Combine(GoldenTokenizers.Root, name);
        string path = File.Exists(Path.Combine(dir, "tokenizer.json")) ? Path.Combine(dir, "tokenizer.json") : Path.Combine(dir, "tokenizer.json.gz");
        return (TokenizerJson.ReadFile(path), TokenizerJson.ReadFile(Path.Combine(dir, "tokenizer_config.json")), path);
    }

    void Compare(string label, HfTokenizer hf, string ggufFile, TempDir temp)
    {
        var strings = GoldenTokenizers.Strings();
        // Strings the tokenizer's Unicode normalization changes are also sent normalized (llama.cpp does not normalize).
        var normalized = strings.Select(s => hf.UnicodeForm is NormalizationForm f ? UnicodeNormalizer.Normalize(s, f) : s).ToList();
        var extra = Enumerable.Range(0, strings.Count).Where(i => normalized[i] != strings[i]).ToList();
        var result = LlamaCppHarness.Run(new JsonObject
        {
            ["model"] = ggufFile,
            ["tokenize"] = new JsonArray(strings.Concat(extra.Select(i => normalized[i])).Select(s => (JsonNode)s).ToArray()),
        }, temp.Path);
        var parsed = result["tokenize"]!.AsArray();
        var plainText = result["tokenizePlain"]!.AsArray();
        var failures = new List<string>();
        int nfc = 0, literal = 0;
        for (int i = 0; i < strings.Count; i++)
        {
            var ours = hf.Encode(strings[i], addSpecialTokens: false);
            var llama = Ids(parsed[i]);
            if (ours.SequenceEqual(llama)) continue;
            if (ours.SequenceEqual(Ids(plainText[i]))) { literal++; continue; }
            int at = extra.IndexOf(i);
            if (at >= 0 && ours.SequenceEqual(Ids(parsed[strings.Count + at]))) { nfc++; continue; }
            failures.Add($"#{i} {GoldenTokenizers.Show(strings[i])}: MoePrune [{string.Join(",", ours)}] llama.cpp [{string.Join(",", llama)}]");
        }
        var plain = hf.Encode("a", false);
        var full = hf.Encode("a", true);
        bool addBos = full.Count > plain.Count && full[0] == hf.BosId, addEos = full.Count > plain.Count && full[^1] == hf.EosId;
        output.WriteLine($"{label} (llama.cpp {result["llamaCpp"]}): {strings.Count - failures.Count - nfc - literal}/{strings.Count} strings identical, " +
                         $"{literal} identical with special-token texts read as text (llama.cpp promotes e.g. </s> to a control token by name), " +
                         $"{nfc} identical once the input is in {hf.UnicodeForm} (llama.cpp does not normalize); " +
                         $"bos {result["bos"]} eos {result["eos"]} addBos {result["addBos"]} addEos {result["addEos"]}");
        foreach (var f in failures.Take(10)) output.WriteLine(f);
        Assert.Empty(failures);
        Assert.Equal(hf.EosId, (int?)result["eos"]);
        if (hf.BosId is int bos) Assert.Equal(bos, (int?)result["bos"]);
        Assert.Equal(addBos, (bool)result["addBos"]!);
        Assert.Equal(addEos, (bool)result["addEos"]!);
    }
}
