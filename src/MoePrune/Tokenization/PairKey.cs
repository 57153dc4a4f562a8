namespace MoePrune.Tokenization;

/// <summary>
/// A pair of token ids packed into one <c>long</c> (left in the high half), with a hash that mixes both
/// halves: <c>long.GetHashCode</c> is <c>hi ^ lo</c>, which makes (a, b), (b, a) and every pair with the
/// same XOR collide, slowing the merge tables of BPE encoding and training to a crawl.
/// </summary>
public sealed class PairKey : IEqualityComparer<long>
{
    public static readonly PairKey Comparer = new();

    public static long Of(int left, int right) => ((long)left << 32) | (uint)right;

    public static int Left(long key) => (int)(key >> 32);

    public static int Right(long key) => (int)key;

    public bool Equals(long x, long y) => x == y;

    public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
}
