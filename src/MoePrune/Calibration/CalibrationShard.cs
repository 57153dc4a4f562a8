namespace MoePrune.Calibration;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (1-based, "K/N") of a calibration set: the K-th of N contiguous
/// slices of its sequences in order, sequences ⌊(K−1)·S/N⌋ … ⌊K·S/N⌋−1. The slices of 1..N cover the set once, in
/// order, so their statistics merged in shard order equal one pass over everything (sums up to fp32 summation order;
/// the input sample keeps the same first rows). Any batch scheduler can run the N slices (docs/LAYERWISE.md).
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

    /// <summary>This shard's slice of <paramref name="data"/> (its sources as in the whole set, so every shard keeps the same per-source statistics).</summary>
    public CalibrationSet Apply(CalibrationSet data, string option = "shard")
    {
        if (data.Shard is not null) throw new InvalidOperationException($"calibration data is already shard {data.Shard}");
        int total = data.Sequences.Count;
        int start = (int)((long)(Index - 1) * total / Count), end = (int)((long)Index * total / Count);
        if (end <= start)
            throw new MoePruneException($"{option} {this}: the calibration set has {total} sequence(s); shard {Index} of {Count} would be empty (use at most {total} shards)");
        return new CalibrationSet
        {
            Spec = data.Spec, SequenceLength = data.SequenceLength, Seed = data.Seed, Sources = data.Sources,
            Sequences = data.Sequences.Skip(start).Take(end - start).ToList(), Shard = this, WholeSequences = total,
        };
    }
}
