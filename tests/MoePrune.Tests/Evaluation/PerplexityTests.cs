using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Evaluation;

public class PerplexityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void MeanNllEqualsTheReferenceWhateverTheBatching(int batchSize)
    {
        using var model = ModelLoader.Load(ModelFixtures.Dir("mixtral_window_fused_sharded"), torch.ScalarType.Float32);
        var expected = ModelFixtures.Expected("mixtral_window_fused_sharded");
        var ids = expected["input_ids"];
        var sequences = Enumerable.Range(0, (int)ids.shape[0]).Select(i => ids[i].data<long>().Select(v => (int)v).ToArray()).ToList();
        var result = Perplexity.Evaluate(model, sequences, batchSize);
        double reference = expected["mean_nll"].item<float>();
        output.WriteLine($"batch {batchSize}: mean NLL {result.MeanNll:F6} over {result.Tokens} tokens, reference {reference:F6}");
        Assert.Equal(ids.shape[0] * (ids.shape[1] - 1), result.Tokens);
        Assert.True(Math.Abs(result.MeanNll - reference) < 1e-5);
        Assert.Equal(Math.Exp(result.MeanNll), result.Perplexity, 9);
    }

    [Fact]
    public void UnequalLengthsArePaddedWithoutChangingTheResult()
    {
        using var model = ModelLoader.Load(ModelFixtures.Dir("olmoe_clip_fp32"), torch.ScalarType.Float32);
        int[][] seqs = [[3, 4, 5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15], [16]];
        var batched = Perplexity.Evaluate(model, seqs, batchSize: 4);
        var single = Perplexity.Evaluate(model, seqs, batchSize: 1);
        Assert.Equal(6 + 1 + 3, batched.Tokens);                         // the 1-token sequence predicts nothing
        Assert.True(Math.Abs(batched.MeanNll - single.MeanNll) < 1e-5);
    }

    [Fact]
    public void TokenFileErrorsNameFileAndLine()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["t.txt"], "1 2 3\n\n4 x 6\n");
        var e = Assert.Throws<MoePruneException>(() => Perplexity.ReadTokenFile(tmp["t.txt"]));
        Assert.Equal($"{tmp["t.txt"]}:3: \"x\" is not a token id", e.Message);
        File.WriteAllText(tmp["ok.txt"], "1 2 3\n\n 4\t5 \n");
        Assert.Equal([[1, 2, 3], [4, 5]], Perplexity.ReadTokenFile(tmp["ok.txt"]));

        using var model = ModelLoader.Load(ModelFixtures.Dir("olmoe_clip_fp32"), torch.ScalarType.Float32);
        Assert.Contains("outside the vocabulary", Assert.Throws<MoePruneException>(() => Perplexity.Evaluate(model, [[1, 96]])).Message);
    }
}
