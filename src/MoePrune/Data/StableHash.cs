using System.Security.Cryptography;
using System.Text;

namespace MoePrune.Data;

/// <summary>
/// Seeded hashes that are the same on every machine and .NET version (unlike <see cref="string.GetHashCode()"/>),
/// used for the document splits, the held-out lemma choice and every deterministic shuffle: the first 8 bytes of
/// SHA-256 over <c>"{seed}:{key}"</c>, little-endian.
/// </summary>
public static class StableHash
{
    public static ulong Of(long seed, string key)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}:{key}"), digest);
        return BitConverter.ToUInt64(digest[..8]);
    }

    /// <summary>The items sorted by their seeded hash (ties broken by key, ordinal): a reproducible shuffle.</summary>
    public static List<T> Shuffle<T>(IEnumerable<T> items, long seed, Func<T, string> key) =>
        items.Select(x => (Item: x, Key: key(x)))
             .OrderBy(x => Of(seed, x.Key)).ThenBy(x => x.Key, StringComparer.Ordinal)
             .Select(x => x.Item).ToList();
}

/// <summary>
/// A small explicit random generator (SplitMix64) for choices that need a stream of numbers — distractor draws,
/// passage positions — so results never depend on <see cref="Random"/>'s implementation or on global state.
/// </summary>
public sealed class SeededRandom(ulong state)
{
    ulong _state = state;

    public SeededRandom(long seed, string stream) : this(StableHash.Of(seed, stream)) { }

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform integer in [0, <paramref name="n"/>).</summary>
    public int Next(int n) => n <= 0 ? throw new ArgumentOutOfRangeException(nameof(n)) : (int)(NextUInt64() % (ulong)n);

    /// <summary>Picks <paramref name="count"/> distinct items from <paramref name="pool"/> that pass <paramref name="accept"/>.</summary>
    public List<T> Sample<T>(IReadOnlyList<T> pool, int count, Func<T, bool> accept, int maxTries = 10_000)
    {
        var picked = new List<T>(count);
        var seen = new HashSet<int>();
        for (int tries = 0; picked.Count < count && tries < maxTries && seen.Count < pool.Count; tries++)
        {
            int i = Next(pool.Count);
            if (seen.Add(i) && accept(pool[i])) picked.Add(pool[i]);
        }
        return picked;
    }
}
