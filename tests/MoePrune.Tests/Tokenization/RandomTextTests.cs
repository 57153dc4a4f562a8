using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// Seeded random text drawn from many scripts, astral planes, emoji, marks, whitespace and special-token
/// fragments: byte-level tokenizers must round-trip it (up to their Unicode form) and every tokenizer must
/// encode it, and text with lone surrogates, without throwing.
/// </summary>
public class RandomTextTests(ITestOutputHelper output)
{
    static readonly string[] Pieces =
    [
        "a", "Z", "7", " ", "  ", "\t", "\n", "\r\n", "'s", "'LL", "é", "e\u0301", "ß", "İ", "ǅ", "Ω", "漢", "字", "ひ", "カ",
        "한", "\u1100\u1161", "ا", "ש", "अ", "ि", "ก", "𝐀", "𝟘", "𠀀", "𐐀", "😀", "👍🏽", "👨‍👩‍👧", "🇯🇵", "\u200d", "\u00a0",
        "\u3000", "—", "…", "«", "$", "€", "½", "²", "<|im_start|>", "<|im_end|>", "<s>", "</s>", "<｜User｜>", "<|", "|>", "▁", "Ġ",
    ];

    static string RandomText(Random rng)
    {
        var sb = new System.Text.StringBuilder();
        int n = rng.Next(0, 40);
        for (int i = 0; i < n; i++) sb.Append(Pieces[rng.Next(Pieces.Length)]);
        return sb.ToString();
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("deepseek_v3")]
    [InlineData("llama2")]
    public void RandomTextEncodesAndRoundTrips(string name)
    {
        var tokenizer = GoldenTokenizers.Tokenizer(name);
        var rng = new Random(1234);
        int roundTrips = 0;
        for (int i = 0; i < 300; i++)
        {
            string text = RandomText(rng);
            var ids = tokenizer.Encode(text, addSpecialTokens: false);
            Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
            if (!tokenizer.IsLossless) continue;
            string expected = tokenizer.UnicodeForm is { } form ? UnicodeNormalizer.Normalize(text, form) : text;
            Assert.Equal(expected, tokenizer.Decode(ids));
            roundTrips++;
        }
        tokenizer.Encode("lone \ud800 surrogate \udc00 and 𝐀\ud83d");   // must not throw
        output.WriteLine($"{name}: 300 random strings encoded, {roundTrips} round-tripped");
    }
}
