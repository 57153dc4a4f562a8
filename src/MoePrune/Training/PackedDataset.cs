using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>
/// A token stream cut into non-overlapping sequences of <see cref="SequenceLength"/> tokens (the tail shorter
/// than one sequence is dropped). Sequences are visited epoch by epoch, each epoch in its own seeded
/// permutation (<see cref="EpochOrder"/>), so the batch at a given global position depends only on
/// (seed, position): resuming needs nothing but the position.
/// </summary>
public sealed class PackedDataset : ITrainingData
{
    private readonly int[] _tokens;
    private readonly EpochOrder _order;

    public PackedDataset(int[] tokens, int sequenceLength, long seed)
    {
        if (tokens.Length < sequenceLength)
            throw new MoePruneException($"training data: {tokens.Length} tokens, fewer than one sequence of {sequenceLength}");
        _tokens = tokens;
        SequenceLength = sequenceLength;
        Seed = seed;
        SequenceCount = tokens.Length / sequenceLength;
        _order = new EpochOrder(SequenceCount, seed);
    }

    public int SequenceLength { get; }
    public long Seed { get; }
    public int SequenceCount { get; }
    public long TokenCount => (long)SequenceCount * SequenceLength;

    /// <summary>The order of the sequences in <paramref name="epoch"/>.</summary>
    public int[] Order(long epoch) => _order.Of(epoch);

    /// <summary>Token ids (B, T) int64 of the <paramref name="count"/> sequences starting at global position <paramref name="position"/>.</summary>
    public Tensor Batch(long position, int count)
    {
        var ids = new long[(long)count * SequenceLength];
        for (int b = 0; b < count; b++)
        {
            int sequence = _order.At(position + b);
            for (int t = 0; t < SequenceLength; t++)
                ids[(long)b * SequenceLength + t] = _tokens[(long)sequence * SequenceLength + t];
        }
        return tensor(ids, [count, SequenceLength]);                                     // (B, T) int64
    }

    /// <summary>The <paramref name="batchSize"/> sequences at the cursor's position; the position advances by them.</summary>
    public TrainingBatch Read(DataCursor at, int batchSize) => new(Batch(at.Position, batchSize), at.Position + batchSize);
}
