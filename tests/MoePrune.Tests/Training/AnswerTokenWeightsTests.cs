using MoePrune.Models;
using MoePrune.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Training;

/// <summary>The answer-token loss weights: marker matching against hand-placed markers, and the weighted NLL against a float64 loop.</summary>
public class AnswerTokenWeightsTests(ITestOutputHelper output)
{
    static readonly long[] Marker = [5, 6, 7];

    [Fact]
    public void WeightsTheRowThatEndsEachMarker()
    {
        using var scope = NewDisposeScope();
        long[,] ids =
        {
            { 5, 6, 7, 1, 2, 5, 6, 7, 3, 9 },   // two markers: rows 2 and 7
            { 5, 6, 1, 7, 5, 6, 6, 7, 5, 6 },   // broken markers and one cut off at the end: none
            { 1, 1, 1, 1, 1, 1, 1, 5, 6, 7 },   // marker ending the row (its target lies in the next sequence)
        };
        var w = AnswerTokenWeights.Rows(tensor(ids), Marker, 4.0);                    // (3, 10)
        var expected = new float[3, 10];
        for (int b = 0; b < 3; b++) for (int t = 0; t < 10; t++) expected[b, t] = 1;
        expected[0, 2] = expected[0, 7] = expected[2, 9] = 4;
        Assert.Equal(expected.Cast<float>(), w.data<float>().ToArray());
        // A row shorter than the marker has no match.
        var shortRow = AnswerTokenWeights.Rows(tensor(new long[,] { { 5, 6 } }), Marker, 4.0);
        Assert.Equal([1f, 1f], shortRow.data<float>().ToArray());
    }

    [Fact]
    public void WeightedNllMatchesAFloat64Loop()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        long b = 2, t = 9, v = 11;
        var logits = randn(b, t, v) * 2;                                               // (B, T, V)
        var ids = randint(0, v, [b, t]);                                               // (B, T)
        ids[0, 3].fill_(5); ids[0, 4].fill_(6); ids[0, 5].fill_(7);                                  // a marker ending at row 5
        var w = AnswerTokenWeights.Rows(ids, Marker, 10.0);                            // (B, T)
        var rows = NextTokenRows.Compute(logits, ids, null);                           // (B·T) NLL and valid
        var plain = rows.Nll.sum();                                                    // () fp32
        var weighted = (rows.Nll * w.reshape(-1)).sum();                               // () fp32
        var l = logits.to(ScalarType.Float64).data<double>().ToArray();
        var id = ids.data<long>().ToArray();
        var wt = w.data<float>().ToArray();
        double sum = 0, wsum = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t - 1; j++)
            {
                int row = (int)((i * t + j) * v);
                double max = double.NegativeInfinity;
                for (int k = 0; k < v; k++) max = Math.Max(max, l[row + k]);
                double z = 0;
                for (int k = 0; k < v; k++) z += Math.Exp(l[row + k] - max);
                double nll = Math.Log(z) + max - l[row + id[i * t + j + 1]];
                sum += nll;
                wsum += wt[i * t + j] * nll;
            }
        double dPlain = Math.Abs(plain.item<float>() - sum), dWeighted = Math.Abs(weighted.item<float>() - wsum);
        output.WriteLine($"plain {plain.item<float>()} vs {sum} (diff {dPlain:E2}); weighted {weighted.item<float>()} vs {wsum} (diff {dWeighted:E2})");
        Assert.True(dPlain < 1e-4 && dWeighted < 1e-4);
        Assert.Equal(b * (t - 1), rows.Valid.sum().item<long>());
        Assert.True(wsum > sum + 1);                                                   // the weight took effect
        // Unweighted it is the ordinary loss.
        Assert.Equal(CausalLMLoss.Compute(logits, ids).Sum.item<float>(), plain.item<float>(), 4);
    }
}
