using MoePrune.Data;
using Xunit;

namespace MoePrune.Tests.Data;

/// <summary>The seeded hash and generator that every split and shuffle rests on.</summary>
public class StableHashTests
{
    [Fact]
    public void HashMatchesPythonHashlib()
    {
        // python3: struct.unpack('<Q', hashlib.sha256(b'5:ca01').digest()[:8])[0]
        Assert.Equal(17402714889750170380UL, StableHash.Of(5, "ca01"));
        Assert.Equal(9034868275020652135UL, StableHash.Of(11, "dog"));
    }

    [Fact]
    public void ShuffleIsAPermutationThatDependsOnTheSeed()
    {
        var items = Enumerable.Range(0, 50).Select(i => $"item{i}").ToList();
        var a = StableHash.Shuffle(items, 1, x => x);
        Assert.Equal(items.Order(), a.Order());
        Assert.Equal(a, StableHash.Shuffle(items, 1, x => x));
        Assert.NotEqual(a, StableHash.Shuffle(items, 2, x => x));
    }

    [Fact]
    public void SeededRandomIsReproducibleAndSamplesDistinctAcceptedItems()
    {
        var r1 = new SeededRandom(3, "stream");
        var r2 = new SeededRandom(3, "stream");
        Assert.Equal(Enumerable.Range(0, 10).Select(_ => r1.NextUInt64()), Enumerable.Range(0, 10).Select(_ => r2.NextUInt64()));
        var pool = Enumerable.Range(0, 20).ToList();
        var picked = new SeededRandom(3, "sample").Sample(pool, 5, x => x % 2 == 0);
        Assert.Equal(5, picked.Distinct().Count());
        Assert.All(picked, x => Assert.Equal(0, x % 2));
        var counts = new int[4];
        var r = new SeededRandom(9, "uniform");
        for (int i = 0; i < 4000; i++) counts[r.Next(4)]++;
        Assert.All(counts, c => Assert.InRange(c, 900, 1100));
    }
}
