using MoePrune.Models.Families;
using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// Causal self-attention with grouped KV heads, its own <see cref="RotaryEmbedding"/> and the family's
/// QK-norm / clip_qkv, computed through <c>scaled_dot_product_attention</c> (bf16 inference without a mask:
/// <see cref="BlockedCausalAttention"/>). With a KV cache, the new keys and values are appended to it and the
/// queries attend to every cached slot. Children: q_proj, k_proj, v_proj, o_proj, and q_norm/k_norm where
/// the family has QK-norm.
/// </summary>
public sealed class Attention : nn.Module<AttentionInput, Tensor>
{
    private readonly EmptyLinear _q, _k, _v, _o;
    private readonly RmsNorm? _qNorm, _kNorm;
    private readonly int _heads, _kvHeads, _headDim;
    private readonly QkNormPlacement _qkNorm;
    private readonly double? _clip;
    private readonly RotaryEmbedding _rotary;

    public Attention(MoeConfig config, RotaryEmbedding rotary, ScalarType dtype, Device device) : base(nameof(Attention))
    {
        _rotary = rotary;
        (_heads, _kvHeads, _headDim) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);
        _qkNorm = config.QkNorm;
        _clip = config.ClipQkv;
        int h = config.HiddenSize;
        _q = new EmptyLinear(h, _heads * _headDim, config.QkvBias, dtype, device);
        _k = new EmptyLinear(h, _kvHeads * _headDim, config.QkvBias, dtype, device);
        _v = new EmptyLinear(h, _kvHeads * _headDim, config.QkvBias, dtype, device);
        _o = new EmptyLinear(_heads * _headDim, h, config.OutputBias, dtype, device);
        register_module("q_proj", _q);
        register_module("k_proj", _k);
        register_module("v_proj", _v);
        register_module("o_proj", _o);
        if (_qkNorm == QkNormPlacement.PerHead)
        {
            _qNorm = new RmsNorm(_headDim, config.RmsNormEps, dtype, device);
            _kNorm = new RmsNorm(_headDim, config.RmsNormEps, dtype, device);
        }
        else if (_qkNorm == QkNormPlacement.FullWidth)
        {
            _qNorm = new RmsNorm(_heads * _headDim, config.RmsNormEps, dtype, device);
            _kNorm = new RmsNorm(_kvHeads * _headDim, config.RmsNormEps, dtype, device);
        }
        if (_qNorm is not null) register_module("q_norm", _qNorm);
        if (_kNorm is not null) register_module("k_norm", _kNorm);
    }

    public RotaryEmbedding Rotary => _rotary;

    public override Tensor forward(AttentionInput input)
    {
        using var scope = NewDisposeScope();
        var x = input.Hidden;                                            // (B, T, H)
        long b = x.shape[0], t = x.shape[1];
        var q = _q.forward(x);                                           // (B, T, nh·hd)
        var k = _k.forward(x);                                           // (B, T, kv·hd)
        var v = _v.forward(x);                                           // (B, T, kv·hd)
        if (_qkNorm == QkNormPlacement.FullWidth)
        {
            // OLMoE: "query_states = self.q_norm(self.q_proj(hidden_states))", before the head split
            q = _qNorm!.forward(q);
            k = _kNorm!.forward(k);
        }
        if (_clip is double c)
        {
            q = q.clamp(Scalars.Of(-c), Scalars.Of(c));
            k = k.clamp(Scalars.Of(-c), Scalars.Of(c));
            v = v.clamp(Scalars.Of(-c), Scalars.Of(c));
        }
        q = q.view(b, t, _heads, _headDim);                              // (B, T, nh, hd)
        k = k.view(b, t, _kvHeads, _headDim);                            // (B, T, kv, hd)
        if (_qkNorm == QkNormPlacement.PerHead)
        {
            // Qwen3: per-head RMSNorm over head_dim, before RoPE
            q = _qNorm!.forward(q);
            k = _kNorm!.forward(k);
        }
        var (cos, sin) = input.Positions.For(_rotary, q.dtype);                      // (T, r) or (B, 1, T, r)
        q = Rotate(q.transpose(1, 2), cos, sin);                                     // (B, nh, T, hd)
        k = Rotate(k.transpose(1, 2), cos, sin);                                     // (B, kv, T, hd)
        v = v.view(b, t, _kvHeads, _headDim).transpose(1, 2);                        // (B, kv, T, hd)
        if (input.Cache is not null)
            (k, v) = input.Cache.Append(k, v);                                       // (B, kv, S, hd) each
        Tensor o;                                                                    // (B, nh, T, hd)
        if (input.Mask is null && BlockedCausalAttention.Applies(q))
            o = BlockedCausalAttention.Forward(q, k, v);                             // bf16 inference
        else
        {
            k = RepeatKv(k);                                                         // (B, nh, S, hd)
            v = RepeatKv(v);                                                         // (B, nh, S, hd)
            o = input.Mask is null
                ? nn.functional.scaled_dot_product_attention(q, k, v, null, 0.0, true)
                : nn.functional.scaled_dot_product_attention(q, k, v, input.Mask, 0.0, false);
        }
        o = o.transpose(1, 2).reshape(b, t, _heads * _headDim);                      // (B, T, nh·hd)
        return _o.forward(o).MoveToOuterDisposeScope();                              // (B, T, H)
    }

    /// <summary>RoPE on the first r = rotary width features of each head (GLM's partial rotary), the rest passed through. (B, h, T, hd)</summary>
    private Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        int r = _rotary.HeadDim;
        if (r == _headDim) return RotaryEmbedding.Apply(x, cos, sin);
        // python: q_rot, q_pass = q[..., :rotary_dim], q[..., rotary_dim:]; q_embed = torch.cat([q_rot * cos + rotate_half(q_rot) * sin, q_pass], -1)
        var rotated = RotaryEmbedding.Apply(x.narrow(-1, 0, r), cos, sin);          // (B, h, T, r)
        return cat([rotated, x.narrow(-1, r, _headDim - r)], -1);                   // (B, h, T, hd)
    }

    /// <summary>(B, kv, S, hd) → (B, nh, S, hd): each KV head serves nh/kv query heads (HF repeat_kv).</summary>
    private Tensor RepeatKv(Tensor x)
    {
        int rep = _heads / _kvHeads;
        if (rep == 1) return x.alias();
        long b = x.shape[0], t = x.shape[2];
        return x.unsqueeze(2).expand(b, _kvHeads, rep, t, _headDim).reshape(b, _heads, t, _headDim);
    }
}

/// <summary>
/// Attention inputs: normed hidden (B, T, H); the forward's positions (each attention takes the RoPE tables of
/// its own rotary from them); optional bool mask (B, 1, T, S), true = attend, S = cached + T slots (null: plain
/// causal, no cache); optional KV cache of this layer.
/// </summary>
public sealed record AttentionInput(Tensor Hidden, PositionEmbeddings Positions, Tensor? Mask, LayerKvCache? Cache = null);
