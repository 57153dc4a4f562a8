using MoePrune.Generation;
using MoePrune.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Evaluation;

/// <summary>
/// <see cref="GreedyDecoder"/>'s contract against a naive loop written here (one unpadded forward of the whole
/// sequence per step, argmax of the last row), for every family, batched prompts of different lengths included.
/// </summary>
public sealed class GreedyDecoderTests(ITestOutputHelper output)
{
    static List<int> Naive(MoeForCausalLM model, int[] prompt, int maxNew, int? eos = null)
    {
        var ids = prompt.ToList();
        var generated = new List<int>();
        using var inference = inference_mode();
        for (int step = 0; step < maxNew; step++)
        {
            using var scope = NewDisposeScope();
            var logits = model.Logits(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0));  // (1, T, V)
            int next = (int)logits[0, -1].argmax().item<long>();
            if (next == eos) break;
            generated.Add(next);
            ids.Add(next);
        }
        return generated;
    }

    public static TheoryData<string> Families => new(TinyCheckpoint.Families);

    [Theory]
    [MemberData(nameof(Families))]
    public void BatchedDecodingEqualsTheNaiveLoop(string family)
    {
        using var model = EvalFixtures.Tiny(vocab: 64, seed: 4, family: family);
        var rng = new Random(2);
        var prompts = new[] { 3, 9, 1, 6, 12 }.Select(n => EvalFixtures.RandomIds(rng, n, 64)).ToList();
        var batched = GreedyDecoder.Generate(model, prompts, new GenerationOptions(6, BatchSize: 3));
        for (int i = 0; i < prompts.Count; i++)
        {
            var naive = Naive(model, prompts[i], 6);
            output.WriteLine($"{family} prompt {i}: {string.Join(" ", batched[i])} | naive {string.Join(" ", naive)}");
            Assert.Equal(naive, batched[i]);
        }
    }

    [Fact]
    public void EosEndsASequenceWithoutBeingReturnedAndStopWhenKeepsTheLastToken()
    {
        using var model = EvalFixtures.Tiny(vocab: 64, seed: 4);
        int[] prompt = [5, 17, 33];
        var free = Naive(model, prompt, 5);
        int eos = free[2];
        int firstEos = free.IndexOf(eos);
        var stopped = GreedyDecoder.Generate(model, [prompt], new GenerationOptions(5, [eos]))[0];
        Assert.Equal(free.Take(firstEos), stopped);

        var seen = new List<(int, int)>();
        var cut = GreedyDecoder.Generate(model, [prompt, prompt], new GenerationOptions(5), (i, ids) =>
        {
            seen.Add((i, ids.Count));
            return i == 1 && ids.Count == 2;
        });
        Assert.Equal(free, cut[0]);
        Assert.Equal(free.Take(2), cut[1]);
        Assert.Contains((1, 2), seen);
        Assert.Empty(GreedyDecoder.Generate(model, [prompt], new GenerationOptions(0))[0]);
    }

    [Fact]
    public void DecodingLeavesNoTensorsBehind()
    {
        using var model = EvalFixtures.Tiny(vocab: 64, seed: 4);
        int[][] prompts = [[1, 2, 3], [4, 5]];
        GreedyDecoder.Generate(model, prompts, new GenerationOptions(3));
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        GreedyDecoder.Generate(model, prompts, new GenerationOptions(3));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
