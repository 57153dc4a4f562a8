namespace MoePrune.Calibration;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (1-based, "K/N") of a calibration set: the K-th of N contiguous
/// runs of its batches — the batches a calibration pass forms (by source, <c>batchSize</c> sequences at a time) —
/// batches ⌊(K−1)·M/N⌋ … ⌊K·M/N⌋−1 of M. Whole batches keep every batch's sums exactly those of one pass over
/// everything, and the slices of 1..N cover the set once, in order: their statistics merged in shard order equal
/// one pass up to fp64 summation order (the input sample keeps the same first rows). Any batch scheduler can run
/// the N slices (docs/LAYERWISE.md).
/// </summary>
public sealed record CalibrationShard(int Index, int Count)
{
    public override string ToString() => $"{Index}/{Count}";

    /// <summary>Parses "K/N" (1 ≤ K ≤ N); <paramref name="option"/> names the setting in errors.</summary>
    public static CalibrationShard Parse(string text, string option = "shard")
    {
        var parts = text.Trim().Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int k) || !int.TryParse(parts[1], out int n))
            throw new MoePruneException($"{option} {text}: expected K/N, shard K of N (e.g. 2/3)");
        if (n < 1)
            throw new MoePruneException($"{option} {text}: the number of shards N must be at least 1");
        if (k < 1 || k > n)
            throw new MoePruneException($"{option} {text}: shard K must be between 1 and N = {n}");
        return new CalibrationShard(k, n);
    }

    /// <summary>
    /// This shard's slice of <paramref name="data"/> cut in batches of <paramref name="batchSize"/> (its sources as in the
    /// whole set, so every shard keeps the same per-source statistics).
    /// </summary>
    public CalibrationSet Apply(CalibrationSet data, int batchSize, string option = "shard")
    {
        if (data.Shard is not null) throw new InvalidOperationException($"calibration data is already shard {data.Shard}");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        var batches = data.Sequences.GroupBy(s => s.Source).SelectMany(g => g.Chunk(batchSize)).ToList();
        int start = (int)((long)(Index - 1) * batches.Count / Count), end = (int)((long)Index * batches.Count / Count);
        if (end <= start)
            throw new MoePruneException($"{option} {this}: the calibration set makes {batches.Count} batch(es) of up to {batchSize} sequences; "
                                        + $"shard {Index} of {Count} would be empty (use at most {batches.Count} shards, or a smaller batch size)");
        return new CalibrationSet
        {
            Spec = data.Spec, SequenceLength = data.SequenceLength, Seed = data.Seed, Sources = data.Sources,
            Sequences = batches.Skip(start).Take(end - start).SelectMany(b => b).ToList(),
            Shard = this, WholeSequences = data.Sequences.Count, ShardBatchSize = batchSize,
        };
    }
}
