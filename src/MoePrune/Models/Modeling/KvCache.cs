using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// The keys and values every decoder layer computed in earlier forwards (HF <c>DynamicCache</c>), for
/// incremental decoding: pass it in <see cref="CausalLMInput.Cache"/>, and each forward appends its T
/// positions. Positions are cache slots 0..Length-1 for every row of the batch; a left-padded batch marks its
/// padding in the attention mask, which then covers all Length + T slots. Inference only (no autograd through
/// it). Owns its buffers: dispose it.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerKvCache[] _layers;

    public KvCache(int numLayers) =>
        _layers = Enumerable.Range(0, numLayers).Select(_ => new LayerKvCache()).ToArray();

    /// <summary>A cache for every decoder layer of <paramref name="model"/>.</summary>
    public static KvCache For(MoeForCausalLM model) => new(model.Config.NumHiddenLayers);

    public int NumLayers => _layers.Length;
    /// <summary>Slots already cached (equal in every layer between forwards).</summary>
    public long Length => _layers.Length == 0 ? 0 : _layers[0].Length;
    public LayerKvCache this[int layer] => _layers[layer];

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
    }
}

/// <summary>
/// One layer's cached keys and values (B, kv, S, hd), after RoPE and before the KV heads are repeated, in a
/// buffer whose capacity doubles as it fills (so a step copies only its own T positions).
/// </summary>
public sealed class LayerKvCache : IDisposable
{
    private Tensor? _keys, _values;                                             // (B, kv, capacity, hd)

    public long Length { get; private set; }

    /// <summary>
    /// Appends k, v (B, kv, T, hd) and returns views of every cached key and value so far (B, kv, Length, hd).
    /// The views are fresh handles in the caller's dispose scope; the buffers stay owned by the cache.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
    {
        if (_keys is not null && (_keys.shape[0] != k.shape[0] || _keys.shape[1] != k.shape[1] || _keys.shape[3] != k.shape[3]))
            throw new InvalidOperationException($"KV cache holds [{string.Join(", ", _keys.shape)}], cannot append [{string.Join(", ", k.shape)}]");
        long t = k.shape[2], needed = Length + t;
        if (_keys is null || needed > _keys.shape[2])
        {
            long capacity = Math.Max(needed, 2 * (_keys?.shape[2] ?? 0));
            _keys = Grow(_keys, k, capacity);
            _values = Grow(_values, v, capacity);
        }
        using (no_grad())
        using (var keySlots = _keys.narrow(2, Length, t))                       // (B, kv, T, hd)
        using (var valueSlots = _values!.narrow(2, Length, t))                  // (B, kv, T, hd)
        {
            keySlots.copy_(k);
            valueSlots.copy_(v);
        }
        Length = needed;
        return (_keys.narrow(2, 0, Length), _values.narrow(2, 0, Length));     // (B, kv, Length, hd) each
    }

    /// <summary>A buffer of <paramref name="capacity"/> slots holding the first Length slots of <paramref name="old"/>.</summary>
    private Tensor Grow(Tensor? old, Tensor like, long capacity)
    {
        var buffer = empty([like.shape[0], like.shape[1], capacity, like.shape[3]], like.dtype, like.device)
            .DetachFromDisposeScope();                                          // (B, kv, capacity, hd)
        if (old is not null)
        {
            using (no_grad())
            using (var kept = buffer.narrow(2, 0, Length))                      // (B, kv, Length, hd)
            using (var cached = old.narrow(2, 0, Length))                       // (B, kv, Length, hd)
                kept.copy_(cached);
            old.Dispose();
        }
        return buffer;
    }

    public void Dispose()
    {
        _keys?.Dispose();
        _values?.Dispose();
        _keys = _values = null;
        Length = 0;
    }
}
