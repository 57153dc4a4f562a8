namespace MoePrune.Tokenization;

/// <summary>Settings of <see cref="BpeTrainer"/>.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>The Qwen2/Qwen3 split (GPT-4-like): contractions, letter runs, single digits, punctuation, whitespace.</summary>
    public const string QwenPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Final vocabulary size: 256 byte tokens + learned merges + special tokens.</summary>
    public int VocabSize { get; init; } = 4096;

    /// <summary>Pre-tokenizer regex (tokenizer.json <c>Split</c>, behavior Isolated); merges never cross its pieces.</summary>
    public string PreTokenizerPattern { get; init; } = QwenPattern;

    /// <summary>Special tokens, given ids after the learned vocabulary, in this order; cut out of the training text.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = ["<|endoftext|>", "<|pad|>"];

    /// <summary>A pair seen fewer times than this is never merged (training stops early instead).</summary>
    public int MinFrequency { get; init; } = 2;

    /// <summary>Written to tokenizer_config.json as <c>eos_token</c> (null: none).</summary>
    public string? EosToken { get; init; } = "<|endoftext|>";

    /// <summary>Written to tokenizer_config.json as <c>pad_token</c> (null: none).</summary>
    public string? PadToken { get; init; } = "<|pad|>";
}
