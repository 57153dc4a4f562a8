using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>
/// One batch of the layer-by-layer runner: ids (B·T, row-major), an optional padding mask (B·T, 1 = real token),
/// and the calibration source it came from (per-source statistics), kept as managed arrays between layers.
/// </summary>
public sealed record LayerBatch(long[] Ids, int Rows, int Length, long[]? AttentionMask = null, string? Source = null)
{
    /// <summary>(B, T) int64 ids.</summary>
    public Tensor IdsTensor() => tensor(Ids, [Rows, Length]);

    /// <summary>A right-padded batch of <paramref name="sequences"/> (padding id 0), as <see cref="Evaluation.TokenBatch"/> pads.</summary>
    public static LayerBatch Padded(IReadOnlyList<int[]> sequences, string? source = null)
    {
        int rows = sequences.Count, length = sequences.Max(s => s.Length);
        var ids = new long[rows * length];
        var mask = new long[rows * length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < sequences[i].Length; j++)
            {
                ids[i * length + j] = sequences[i][j];
                mask[i * length + j] = 1;
            }
        return new LayerBatch(ids, rows, length, mask, source);
    }
}

/// <summary>
/// What every decoder layer of one batch's forward shares, built as <see cref="MoeModel"/> builds it (no KV cache):
/// positions 0..T−1 (RoPE tables owned by <see cref="Positions"/>), the causal / padding / sliding-window mask,
/// the non-padded rows and their token ids (only when observed). Kept across layers; the mask is rebuilt per use
/// (it is the only part that grows with T²).
/// </summary>
internal sealed class LayerBatchContext : IDisposable
{
    private readonly LayerBatch _batch;
    private readonly Tensor? _keyValid;                                                   // (B, T) bool, or null when nothing is padded
    private readonly int? _slidingWindow;

    public LayerBatchContext(LayerBatch batch, PositionEmbeddings positions, int? slidingWindow, bool observed)
    {
        using var scope = NewDisposeScope();
        _batch = batch;
        _slidingWindow = slidingWindow;
        Positions = positions;
        if (batch.AttentionMask is { } m)
        {
            var valid = tensor(m, [batch.Rows, batch.Length]).to(ScalarType.Bool);         // (B, T)
            if (!valid.all().item<bool>()) _keyValid = valid.DetachFromDisposeScope();
        }
        ValidRows = _keyValid?.reshape(-1).nonzero().reshape(-1).DetachFromDisposeScope(); // (N) int64 or null
        if (observed)
        {
            var ids = batch.IdsTensor().reshape(-1);                                          // (B·T)
            TokenIds = (ValidRows is null ? ids : ids.index_select(0, ValidRows)).DetachFromDisposeScope(); // (N)
        }
    }

    public PositionEmbeddings Positions { get; }
    public Tensor? ValidRows { get; }
    public Tensor? TokenIds { get; }

    /// <summary>(B, 1, T, T) bool or null (SDPA's causal path), in the current dispose scope.</summary>
    public Tensor? Mask() => AttentionMasks.Build(_batch.Rows, _batch.Length, 0, _keyValid, _slidingWindow, CPU);

    public void Dispose()
    {
        _keyValid?.Dispose();
        ValidRows?.Dispose();
        TokenIds?.Dispose();
    }
}
