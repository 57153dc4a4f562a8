using static TorchSharp.torch;

namespace MoePrune.Generation;

/// <summary>
/// Token rows of a decoding batch, left-padded to a common length (padding id 0, mask 0), to which one
/// token per row is appended each step.
/// </summary>
internal sealed class LeftPaddedBatch
{
    private readonly List<long>[] _ids;
    private readonly List<long>[] _mask;

    public LeftPaddedBatch(IReadOnlyList<int[]> prompts)
    {
        int width = prompts.Max(p => p.Length);
        _ids = prompts.Select(p => Enumerable.Repeat(0L, width - p.Length).Concat(p.Select(t => (long)t)).ToList()).ToArray();
        _mask = prompts.Select(p => Enumerable.Repeat(0L, width - p.Length).Concat(Enumerable.Repeat(1L, p.Length)).ToList()).ToArray();
    }

    /// <summary>Slots per row (padding included).</summary>
    public long Length => _ids[0].Count;

    public void Append(IReadOnlyList<int> tokens)
    {
        for (int i = 0; i < _ids.Length; i++)
        {
            _ids[i].Add(tokens[i]);
            _mask[i].Add(1);
        }
    }

    /// <summary>Ids (B, S) int64 and the padding mask (B, S) int64, 1 at real tokens.</summary>
    public (Tensor Ids, Tensor Mask) Tensors()
    {
        long b = _ids.Length, s = Length;
        return (tensor(_ids.SelectMany(r => r).ToArray(), [b, s]), tensor(_mask.SelectMany(r => r).ToArray(), [b, s]));
    }
}
