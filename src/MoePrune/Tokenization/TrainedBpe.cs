using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>
/// The result of <see cref="BpeTrainer"/>: tokens by id (256 bytes, then merges), the merges in rank order
/// and the special tokens (ids after the learned ones). Writes a standard HF tokenizer.json: BPE model,
/// pre_tokenizer Sequence[Split(regex, Isolated), ByteLevel(use_regex false)], ByteLevel decoder and
/// post-processor, special tokens as added_tokens.
/// </summary>
public sealed class TrainedBpe(IReadOnlyList<string> tokens, IReadOnlyList<(string Left, string Right)> merges,
                               BpeTrainerOptions options, int distinctWords, TimeSpan elapsed)
{
    public IReadOnlyList<string> Tokens { get; } = tokens;
    public IReadOnlyList<(string Left, string Right)> Merges { get; } = merges;
    public BpeTrainerOptions Options { get; } = options;
    public int DistinctWords { get; } = distinctWords;
    public TimeSpan Elapsed { get; } = elapsed;
    public int VocabSize => Tokens.Count + Options.SpecialTokens.Count;

    public JsonObject ToTokenizerJson()
    {
        var vocab = new JsonObject();
        for (int id = 0; id < Tokens.Count; id++) vocab[Tokens[id]] = id;
        var added = new JsonArray();
        for (int i = 0; i < Options.SpecialTokens.Count; i++)
            added.Add(new JsonObject
            {
                ["id"] = Tokens.Count + i, ["content"] = Options.SpecialTokens[i], ["single_word"] = false,
                ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Options.PreTokenizerPattern },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    ByteLevel()),
            },
            ["post_processor"] = ByteLevel(),
            ["decoder"] = ByteLevel(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(Merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray()),
            },
        };
    }

    static JsonObject ByteLevel() => new()
    {
        ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false,
    };

    public JsonObject ToTokenizerConfigJson() => new()
    {
        ["tokenizer_class"] = "PreTrainedTokenizerFast",
        ["clean_up_tokenization_spaces"] = false,
        ["add_bos_token"] = false,
        ["add_eos_token"] = false,
        ["bos_token"] = null,
        ["eos_token"] = Options.EosToken,
        ["pad_token"] = Options.PadToken,
    };

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="directory"/>, each atomically.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        WriteAtomically(Path.Combine(directory, "tokenizer.json"), ToTokenizerJson());
        WriteAtomically(Path.Combine(directory, "tokenizer_config.json"), ToTokenizerConfigJson());
    }

    static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    static void WriteAtomically(string path, JsonObject json) => IO.AtomicFile.WriteText(path, json.ToJsonString(Indented) + "\n");
}
