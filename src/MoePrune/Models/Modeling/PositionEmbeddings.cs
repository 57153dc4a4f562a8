using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// The positions of one forward's T query tokens and the RoPE tables computed from them on first use, once
/// per distinct <see cref="RotaryEmbedding"/> and dtype, so that every layer with the same rotary shares one
/// cos/sin pair. Positions are <c>offset + 0..T-1</c> for every row (the default; the offset is the length of
/// a KV cache), or explicit position ids (B, T) (left-padded batches: <see cref="PositionIdsFromMask"/>). The tables are
/// owned by this object and freed by <see cref="Dispose"/>, not by the dispose scope they were computed in.
/// </summary>
public sealed class PositionEmbeddings : IDisposable
{
    private readonly Tensor _positions;                                          // (T) or (B, T) int64
    private readonly Dictionary<(RotaryEmbedding, ScalarType), (Tensor Cos, Tensor Sin)> _tables = [];

    /// <param name="positionIds">(B, T) int64, or null for <paramref name="offset"/> + 0..T-1.</param>
    public PositionEmbeddings(long seqLen, Device device, long offset = 0, Tensor? positionIds = null)
    {
        _positions = positionIds is null
            ? arange(Scalars.Of(offset), Scalars.Of(offset + seqLen), ScalarType.Int64, device).DetachFromDisposeScope()    // (T)
            : positionIds.to(ScalarType.Int64).alias().DetachFromDisposeScope();                    // (B, T)
    }

    /// <summary>cos, sin for <paramref name="rotary"/> in <paramref name="dtype"/>: (T, d) or, with position ids, (B, 1, T, d).</summary>
    public (Tensor Cos, Tensor Sin) For(RotaryEmbedding rotary, ScalarType dtype)
    {
        if (_tables.TryGetValue((rotary, dtype), out var table)) return table;
        var (cos, sin) = rotary.Compute(_positions, dtype);
        table = (cos.DetachFromDisposeScope(), sin.DetachFromDisposeScope());
        _tables[(rotary, dtype)] = table;
        return table;
    }

    /// <summary>
    /// transformers' position ids of a padded batch: the count of real tokens before each position
    /// (mask.cumsum(-1) − 1), 1 at padding. (B, S) mask → (B, S) int64.
    /// </summary>
    public static Tensor PositionIdsFromMask(Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var mask = attentionMask.to(ScalarType.Int64);                            // (B, S)
        // python: position_ids = attention_mask.long().cumsum(-1) - 1; position_ids.masked_fill_(attention_mask == 0, 1)
        var ids = (mask.cumsum(-1) - Scalars.Of(1)).masked_fill(mask.eq(Scalars.Of(0)), Scalars.Of(1));               // (B, S)
        return ids.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var (cos, sin) in _tables.Values)
        {
            cos.Dispose();
            sin.Dispose();
        }
        _tables.Clear();
        _positions.Dispose();
    }
}
