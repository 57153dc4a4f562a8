using MoePrune.Generation;
using MoePrune.Models;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Generation;

/// <summary>
/// Greedy decoding, batched and left-padded, with and without the KV cache, against a naive decoder written
/// here: each prompt alone, unpadded, the whole prefix recomputed every step.
/// </summary>
public class GreedyDecoderTests(ITestOutputHelper output)
{
    public static TheoryData<string> Families => new(TinyCheckpoint.Families);

    static readonly int[][] Prompts = [[5, 9, 13, 17, 21, 25, 29], [7, 8, 9], [40], [11, 12, 13, 14, 15]];

    [Theory]
    [MemberData(nameof(Families))]
    public void CachedBatchedDecodingEqualsNaiveRecomputation(string family)
    {
        using var model = TinyCheckpoint.Random(KvCacheTests.Config(family), seed: 31);
        const int maxNew = 12;
        var (naive, minGap) = Naive(model, Prompts, maxNew);
        // Batches of 3 then 1: the first is left-padded (lengths 7, 3, 1).
        var cached = GreedyDecoder.Generate(model, Prompts, new GenerationOptions(maxNew, BatchSize: 3));
        var recomputed = GreedyDecoder.Generate(model, Prompts, new GenerationOptions(maxNew, BatchSize: 3, UseCache: false));
        output.WriteLine($"{family}: smallest top-1/top-2 logit gap on the naive path {minGap:E2}");
        for (int i = 0; i < Prompts.Length; i++)
        {
            output.WriteLine($"  prompt {i}: {string.Join(" ", cached[i])}");
            Assert.Equal(naive[i], cached[i]);
            Assert.Equal(naive[i], recomputed[i]);
        }
    }

    [Fact]
    public void EosStopWhenAndTheTokenLimitEndAPrompt()
    {
        using var model = TinyCheckpoint.Random(KvCacheTests.Config("olmoe"), seed: 32);
        var (naive, _) = Naive(model, Prompts, 10);
        var free = GreedyDecoder.Generate(model, Prompts, new GenerationOptions(10));
        Assert.All(free, g => Assert.Equal(10, g.Length));

        // EOS: the first prompt's 4th token; every prompt stops before that token's first occurrence.
        int eos = naive[0][3];
        var stopped = GreedyDecoder.Generate(model, Prompts, new GenerationOptions(10, EosTokenIds: [eos], BatchSize: 2));
        for (int i = 0; i < Prompts.Length; i++)
        {
            int first = Array.IndexOf(naive[i], eos);
            Assert.Equal(first < 0 ? naive[i] : naive[i][..first], stopped[i]);
        }

        // stopWhen: prompt i stops after i + 1 tokens, the last one included.
        var seen = new List<(int, int)>();
        var short_ = GreedyDecoder.Generate(model, Prompts, new GenerationOptions(10), (p, soFar) =>
        {
            seen.Add((p, soFar.Count));
            return soFar.Count == p + 1;
        });
        for (int i = 0; i < Prompts.Length; i++) Assert.Equal(naive[i][..(i + 1)], short_[i]);
        Assert.Equal(Enumerable.Range(0, 4).Sum(i => i + 1), seen.Count);               // called once per generated token

        Assert.All(GreedyDecoder.Generate(model, Prompts, new GenerationOptions(0)), g => Assert.Empty(g));
    }

    [Fact]
    public void BadInputIsOneLineError()
    {
        using var model = TinyCheckpoint.Random(KvCacheTests.Config("mixtral"), seed: 33);
        Assert.Contains("prompt 1 is empty", Assert.Throws<MoePruneException>(() => GreedyDecoder.Generate(model, [[1], []], new GenerationOptions(2))).Message);
        Assert.Contains("64", Assert.Throws<MoePruneException>(() => GreedyDecoder.Generate(model, [[64]], new GenerationOptions(2))).Message);
        Assert.Contains("batch size", Assert.Throws<MoePruneException>(() => GreedyDecoder.Generate(model, [[1]], new GenerationOptions(2, BatchSize: 0))).Message);
        Assert.Contains("max new tokens", Assert.Throws<MoePruneException>(() => GreedyDecoder.Generate(model, [[1]], new GenerationOptions(-1))).Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DecodingLeavesNoLiveTensors(bool useCache)
    {
        using var model = TinyCheckpoint.Random(KvCacheTests.Config("qwen2_moe"), seed: 34);
        GreedyDecoder.Generate(model, Prompts, new GenerationOptions(4, BatchSize: 3, UseCache: useCache));   // warm-up
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        GreedyDecoder.Generate(model, Prompts, new GenerationOptions(6, BatchSize: 3, UseCache: useCache));
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        output.WriteLine($"cache {useCache}: live tensors before {before}, after {after}");
        Assert.Equal(before, after);
    }

    [Fact]
    public void Bf16DecodingIsDeterministic()
    {
        using var model = TinyCheckpoint.Random(KvCacheTests.Config("qwen3_moe"), seed: 35, dtype: ScalarType.BFloat16);
        var a = GreedyDecoder.Generate(model, Prompts, new GenerationOptions(8, BatchSize: 3));
        var b = GreedyDecoder.Generate(model, Prompts, new GenerationOptions(8, BatchSize: 3));
        Assert.Equal(a, b);
        Assert.All(a, g => Assert.Equal(8, g.Length));
    }

    /// <summary>Each prompt alone, no padding, no cache: argmax of the last position of a full forward, every step.</summary>
    static (int[][] Tokens, double MinGap) Naive(MoeForCausalLM model, int[][] prompts, int maxNew)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double minGap = double.MaxValue;
        var result = new int[prompts.Length][];
        for (int i = 0; i < prompts.Length; i++)
        {
            var seq = prompts[i].Select(t => (long)t).ToList();
            var generated = new List<int>();
            for (int s = 0; s < maxNew; s++)
            {
                var logits = model.Logits(tensor(seq.ToArray()).unsqueeze(0))[0];       // (L, V)
                var last = logits[logits.shape[0] - 1];                                 // (V)
                var top = last.topk(2).values.data<float>().ToArray();
                minGap = Math.Min(minGap, top[0] - top[1]);
                int next = (int)last.argmax().item<long>();
                generated.Add(next);
                seq.Add(next);
            }
            result[i] = generated.ToArray();
        }
        return (result, minGap);
    }
}
