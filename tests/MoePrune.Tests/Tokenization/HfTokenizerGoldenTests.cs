using System.Text;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// Exact id match with the JS reference tokenizer on every golden string, for the real Qwen3 (byte-level
/// BPE + NFC + Split regex), Llama-2/Mistral (SentencePiece BPE + byte fallback) and DeepSeek-V3
/// (byte-level BPE, three Split regexes) tokenizer.json files, with and without special tokens; decode
/// equal to the reference's decode; and Decode(Encode(s)) == s where the tokenizer is lossless. Two
/// variants (real files with sections swapped, see make_golden.mjs) cover GPT-NeoX/OLMoE-style ByteLevel
/// regex + prefix space + EOS template and the Mistral-style Metaspace pre-tokenizer/decoder.
/// </summary>
public class HfTokenizerGoldenTests(ITestOutputHelper output)
{
    public static TheoryData<string> Names => new() { "qwen3", "llama2", "deepseek_v3", "qwen3_neox_style", "llama2_metaspace" };

    /// <summary>Every tokenizer with MoePrune's merge loop, and the byte-level ones also with ML.NET's.</summary>
    public static TheoryData<string, bool> Engines => new()
    {
        { "qwen3", false }, { "llama2", false }, { "deepseek_v3", false }, { "qwen3", true }, { "deepseek_v3", true },
        { "qwen3_neox_style", false }, { "llama2_metaspace", false },
    };

    [Theory, MemberData(nameof(Engines))]
    public void EncodeMatchesReferenceIds(string name, bool mlNet)
    {
        var tokenizer = GoldenTokenizers.Tokenizer(name, mlNet);
        var strings = GoldenTokenizers.Strings();
        var cases = GoldenTokenizers.Cases(name);
        Assert.Equal(strings.Count, cases.Count);
        Assert.True(strings.Count >= 200, $"only {strings.Count} golden strings");

        var failures = new List<string>();
        for (int i = 0; i < strings.Count; i++)
        {
            var ids = tokenizer.Encode(strings[i]);
            var plain = tokenizer.Encode(strings[i], addSpecialTokens: false);
            if (!ids.SequenceEqual(cases[i].Ids))
                failures.Add($"#{i} {GoldenTokenizers.Show(strings[i])}: got [{string.Join(",", ids.Take(30))}] want [{string.Join(",", cases[i].Ids.Take(30))}]");
            if (!plain.SequenceEqual(cases[i].IdsNoSpecial))
                failures.Add($"#{i} no-special {GoldenTokenizers.Show(strings[i])}: got [{string.Join(",", plain.Take(30))}] want [{string.Join(",", cases[i].IdsNoSpecial.Take(30))}]");
        }
        output.WriteLine($"{name} (ML.NET merges: {mlNet}): {strings.Count} strings, {failures.Count} id mismatches");
        foreach (var f in failures.Take(10)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches, first: {failures.FirstOrDefault()}");
    }

    [Theory, MemberData(nameof(Names))]
    public void DecodeMatchesReference(string name)
    {
        var tokenizer = GoldenTokenizers.Tokenizer(name);
        var strings = GoldenTokenizers.Strings();
        var cases = GoldenTokenizers.Cases(name);
        var failures = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            string decoded = tokenizer.Decode(cases[i].Ids);
            string skipped = tokenizer.Decode(cases[i].Ids, skipSpecialTokens: true);
            if (decoded != cases[i].Decoded)
                failures.Add($"#{i} decode {GoldenTokenizers.Show(decoded)} want {GoldenTokenizers.Show(cases[i].Decoded)}");
            if (skipped != cases[i].DecodedSkipSpecial)
                failures.Add($"#{i} decode(skip) {GoldenTokenizers.Show(skipped)} want {GoldenTokenizers.Show(cases[i].DecodedSkipSpecial)}");
            if (tokenizer.IsLossless)
            {
                var form = tokenizer.UnicodeForm;
                string expected = form is { } f ? UnicodeNormalizer.Normalize(strings[i], f) : strings[i];
                string roundTrip = tokenizer.Decode(tokenizer.Encode(strings[i], addSpecialTokens: false));
                if (roundTrip != expected) failures.Add($"#{i} round trip {GoldenTokenizers.Show(roundTrip)} want {GoldenTokenizers.Show(expected)}");
            }
        }
        output.WriteLine($"{name}: lossless={tokenizer.IsLossless}, {failures.Count} decode mismatches");
        foreach (var f in failures.Take(10)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches, first: {failures.FirstOrDefault()}");
    }

    [Theory]
    [InlineData("qwen3", true, null, 151645, 151643)]
    [InlineData("llama2", false, 1, 2, null)]
    [InlineData("deepseek_v3", true, 0, 1, 1)]
    [InlineData("qwen3_neox_style", false, null, 151645, 151643)]   // prefix space: not lossless
    [InlineData("llama2_metaspace", false, 1, 2, null)]
    public void MetadataMatchesTheFiles(string name, bool lossless, int? bos, int? eos, int? pad)
    {
        var tokenizer = GoldenTokenizers.Tokenizer(name);
        Assert.Equal(lossless, tokenizer.IsLossless);
        Assert.Equal(bos, tokenizer.BosId);
        Assert.Equal(eos, tokenizer.EosId);
        Assert.Equal(pad, tokenizer.PadId);
        for (int id = 0; id < tokenizer.VocabSize; id += 997)
            if (tokenizer.TokenOf(id) is string token) Assert.Equal(id, tokenizer.IdOf(token));
    }

    [Theory]
    [InlineData("qwen3", false)]
    [InlineData("qwen3", true)]
    [InlineData("llama2", false)]
    public void ConcurrentEncodingMatchesTheReference(string name, bool mlNet)
    {
        var tokenizer = GoldenTokenizers.Tokenizer(name, mlNet);
        var strings = GoldenTokenizers.Strings();
        var cases = GoldenTokenizers.Cases(name);
        int mismatches = 0;
        Parallel.For(0, strings.Count * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
        {
            int i = k % strings.Count;
            if (!tokenizer.Encode(strings[i]).SequenceEqual(cases[i].Ids)) Interlocked.Increment(ref mismatches);
        });
        Assert.Equal(0, mismatches);
    }
}
