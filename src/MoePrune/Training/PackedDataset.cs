using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>
/// A token stream cut into non-overlapping sequences of <see cref="SequenceLength"/> tokens (the tail shorter
/// than one sequence is dropped). Sequences are visited epoch by epoch, each epoch in its own seeded
/// permutation, so the batch at a given global position depends only on (seed, position): resuming needs
/// nothing but the position.
/// </summary>
public sealed class PackedDataset
{
    private readonly int[] _tokens;
    private readonly Dictionary<long, int[]> _orders = [];

    public PackedDataset(int[] tokens, int sequenceLength, long seed)
    {
        if (tokens.Length < sequenceLength)
            throw new MoePruneException($"training data: {tokens.Length} tokens, fewer than one sequence of {sequenceLength}");
        _tokens = tokens;
        SequenceLength = sequenceLength;
        Seed = seed;
        SequenceCount = tokens.Length / sequenceLength;
    }

    public int SequenceLength { get; }
    public long Seed { get; }
    public int SequenceCount { get; }
    public long TokenCount => (long)SequenceCount * SequenceLength;

    /// <summary>The order of the sequences in <paramref name="epoch"/>: a Fisher–Yates shuffle seeded by (seed, epoch).</summary>
    public int[] Order(long epoch)
    {
        if (_orders.TryGetValue(epoch, out var cached)) return cached;
        var order = Enumerable.Range(0, SequenceCount).ToArray();
        var rng = new Random(unchecked((int)(Seed * 1_000_003 + epoch * 7919 + 17)));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        if (_orders.Count > 4) _orders.Clear();
        return _orders[epoch] = order;
    }

    /// <summary>Token ids (B, T) int64 of the <paramref name="count"/> sequences starting at global position <paramref name="position"/>.</summary>
    public Tensor Batch(long position, int count)
    {
        var ids = new long[(long)count * SequenceLength];
        for (int b = 0; b < count; b++)
        {
            long p = position + b;
            int sequence = Order(p / SequenceCount)[p % SequenceCount];
            for (int t = 0; t < SequenceLength; t++)
                ids[(long)b * SequenceLength + t] = _tokens[(long)sequence * SequenceLength + t];
        }
        return tensor(ids, [count, SequenceLength]);                                     // (B, T) int64
    }
}
