using MoePrune.Criteria;
using TorchSharp;
using Xunit;

namespace MoePrune.Tests.Criteria;

public class ExpertGramTests
{
    [Fact]
    public void ChunkedGramEqualsDirectDotProducts()
    {
        var rng = new Random(4);
        // 3 experts, two parts of lengths 7 and 5, chunks of 3 columns
        var parts = Enumerable.Range(0, 3).Select(_ => new[] { SyntheticEvents.Random(rng, 7), SyntheticEvents.Random(rng, 5) }).ToArray();
        var gram = ExpertGram.Compute(3, [7, 5], (e, part, start, n) => torch.tensor(parts[e][part].AsSpan((int)start, (int)n).ToArray()), chunk: 3);
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < 3; q++)
            {
                double dot = parts[p].Zip(parts[q], (a, b) => a.Zip(b, (x, y) => (double)x * y).Sum()).Sum();
                Assert.Equal(dot, gram[p, q].item<double>(), 5);
            }
    }
}
