using MoePrune.Criteria;
using Xunit;

namespace MoePrune.Tests.Criteria;

/// <summary>The pair procedure on hand-worked matrices.</summary>
public class PairDropOrderTests
{
    // symmetric 4×4: (0,1)=5, (0,2)=1, (0,3)=2, (1,2)=4, (1,3)=0, (2,3)=3
    private static readonly double[] M =
    [
        0, 5, 1, 2,
        5, 0, 4, 0,
        1, 4, 0, 3,
        2, 0, 3, 0,
    ];

    [Fact]
    public void MaxPicksLargestPairAndDropsLessUsedMember()
    {
        // usage: 0 → 10, 1 → 7, 2 → 9, 3 → 8
        // max: (0,1)=5 → drop 1 (7 < 10); left {0,2,3}: (2,3)=3 → drop 3 (8 < 9); left {0,2}: drop 2 (9 < 10)
        var r = PairDropOrder.Ranks(M, [10, 7, 9, 8], DropDirection.Max);
        Assert.Equal([3, 0, 2, 1], r);
    }

    [Fact]
    public void MinPicksSmallestPair()
    {
        // min: (1,3)=0 → drop 1 (7 < 8); left {0,2,3}: (0,2)=1 → drop 2 (9 < 10); left {0,3}: drop 3
        var r = PairDropOrder.Ranks(M, [10, 7, 9, 8], DropDirection.Min);
        Assert.Equal([3, 0, 1, 2], r);
    }

    [Fact]
    public void EqualUsageDropsTheHigherIndexAndEqualEntriesTakeTheFirstPair()
    {
        double[] flat = [0, 1, 1, 1, 0, 1, 1, 1, 0];                                        // all pairs equal
        var r = PairDropOrder.Ranks(flat, [4, 4, 4], DropDirection.Max);
        // first pair (0,1) → drop 1 (higher index); then (0,2) → drop 2; 0 survives
        Assert.Equal([2, 0, 1], r);
    }
}
