using System.Text.Json.Nodes;
using MoePrune.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>
/// The forward with a KV cache and position ids on a left-padded batch, step by step, against a plain forward of
/// each sequence alone and unpadded (no cache, default positions) computed here.
/// </summary>
public class KvCacheTests(ITestOutputHelper output)
{
    public static TheoryData<string> Families => new(TinyCheckpoint.Families);

    /// <summary>3 layers; Qwen2-MoE with a dense layer 0, Mixtral with a 5-token sliding window (crossed by the steps).</summary>
    internal static JsonObject Config(string family)
    {
        var json = TinyCheckpoint.Config(family, hidden: 32, layers: 3, experts: 6, topK: 2, expertSize: 24, vocab: 64);
        if (family == "qwen2_moe") json["mlp_only_layers"] = new JsonArray(0);
        if (family == "mixtral") json["sliding_window"] = 5;
        return json;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void CachedStepsEqualFullForwardOfEachSequenceAlone(string family)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = TinyCheckpoint.Random(Config(family), seed: 21);
        long[][] prompts = [[5, 9, 13, 17, 21, 25], [7, 8, 9]];
        long[][] steps = [[30, 31], [32, 33], [34, 35], [36, 37], [38, 39]];         // fed one per row per step
        var (ids, mask) = LeftPad(prompts);                                             // (2, 6) each
        using var cache = KvCache.For(model);

        var prefill = model.forward(new CausalLMInput(ids, mask, PositionIds: PositionEmbeddings.PositionIdsFromMask(mask), Cache: cache)).Logits; // (2, 6, V)
        double worst = 0;
        for (int row = 0; row < prompts.Length; row++)
        {
            long pad = 6 - prompts[row].Length;
            var alone = model.Logits(tensor(prompts[row]).unsqueeze(0))[0];               // (L, V)
            worst = Math.Max(worst, ModelFixtures.MaxAbsDiff(prefill[row].narrow(0, pad, prompts[row].Length), alone));
        }
        output.WriteLine($"{family}: prefill, max |cached batch − alone| = {worst:E2}");

        var seqs = prompts.Select(p => p.ToList()).ToArray();
        foreach (var step in steps)
        {
            mask = cat([mask, ones(2, 1, ScalarType.Int64)], 1);                        // (2, S)
            var positions = PositionEmbeddings.PositionIdsFromMask(mask);               // (2, S)
            var input = new CausalLMInput(tensor(step).unsqueeze(1), mask, PositionIds: positions.narrow(1, positions.shape[1] - 1, 1), Cache: cache);
            var logits = model.forward(input).Logits;                                   // (2, 1, V)
            for (int row = 0; row < 2; row++)
            {
                seqs[row].Add(step[row]);
                var full = model.Logits(tensor(seqs[row].ToArray()).unsqueeze(0))[0];   // (L, V)
                double d = ModelFixtures.MaxAbsDiff(logits[row, 0], full[full.shape[0] - 1]);
                worst = Math.Max(worst, d);
            }
        }
        Assert.Equal(6 + steps.Length, cache.Length);
        output.WriteLine($"{family}: after {steps.Length} cached steps, max |cached step − full forward's last position| = {worst:E2}");
        Assert.True(worst <= 1e-5, $"cached logits differ by {worst:E2}");
    }

    [Fact]
    public void CacheWithoutPaddingMatchesOneForwardOverTheWholeSequence()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = TinyCheckpoint.Random(Config("qwen3_moe"), seed: 22);
        var ids = randint(0, 64, [2, 12], dtype: ScalarType.Int64, generator: new Generator(23)); // (B, T)
        var whole = model.Logits(ids);                                                  // (B, T, V)
        using var cache = KvCache.For(model);
        var pieces = new List<Tensor>();
        foreach (var (start, length) in new[] { (0L, 5L), (5L, 1L), (6L, 4L), (10L, 2L) })   // default positions: cached + 0..T-1
            pieces.Add(model.forward(new CausalLMInput(ids.narrow(1, start, length), Cache: cache)).Logits);
        double diff = ModelFixtures.MaxAbsDiff(cat(pieces, 1), whole);
        output.WriteLine($"chunks 5+1+4+2 through the cache vs one forward: max diff {diff:E2}");
        Assert.True(diff <= 1e-5, $"differs by {diff:E2}");
    }

    [Fact]
    public void CachedDecodingDoesNotLeakTensors()
    {
        using var model = TinyCheckpoint.Random(Config("mixtral"), seed: 24);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 2; i++)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var cache = KvCache.For(model);
            var (ids, mask) = LeftPad([[1, 2, 3, 4], [5, 6]]);
            model.forward(new CausalLMInput(ids, mask, PositionIds: PositionEmbeddings.PositionIdsFromMask(mask), Cache: cache));
            for (int s = 0; s < 3; s++)
            {
                mask = cat([mask, ones(2, 1, ScalarType.Int64)], 1);                    // (2, S)
                var positions = PositionEmbeddings.PositionIdsFromMask(mask);           // (2, S)
                model.forward(new CausalLMInput(full(2, 1, 7L), mask, PositionIds: positions.narrow(1, positions.shape[1] - 1, 1), Cache: cache));
            }
        }
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        output.WriteLine($"live tensors before {before}, after two cached decodes {after}");
        Assert.Equal(before, after);
    }

    /// <summary>Left-padded ids (B, T) (padding id 0) and mask (B, T).</summary>
    internal static (Tensor Ids, Tensor Mask) LeftPad(long[][] seqs)
    {
        int t = seqs.Max(s => s.Length);
        var ids = new long[seqs.Length, t];
        var mask = new long[seqs.Length, t];
        for (int i = 0; i < seqs.Length; i++)
            for (int j = 0; j < seqs[i].Length; j++) { ids[i, t - seqs[i].Length + j] = seqs[i][j]; mask[i, t - seqs[i].Length + j] = 1; }
        return (tensor(ids), tensor(mask));
    }
}
