using static TorchSharp.torch;

namespace MoePrune.Evaluation;

/// <summary>Right-padded token batches: ids (B, T) int64 padded with 0 and a mask (B, T) int64, 1 at real tokens.</summary>
public sealed record TokenBatch(Tensor InputIds, Tensor AttentionMask) : IDisposable
{
    /// <summary>Pads <paramref name="sequences"/> on the right to the longest one.</summary>
    public static TokenBatch Pad(IReadOnlyList<int[]> sequences)
    {
        if (sequences.Count == 0) throw new ArgumentException("no sequences to batch", nameof(sequences));
        int t = sequences.Max(s => s.Length);
        var ids = new long[sequences.Count, t];
        var mask = new long[sequences.Count, t];
        for (int i = 0; i < sequences.Count; i++)
            for (int j = 0; j < sequences[i].Length; j++) { ids[i, j] = sequences[i][j]; mask[i, j] = 1; }
        return new TokenBatch(tensor(ids), tensor(mask));                // (B, T), (B, T)
    }

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
    }
}
