using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// Multi-head latent attention (transformers <c>DeepseekV2Attention</c> / <c>DeepseekV3Attention</c>): the query from
/// <c>q_proj</c>, or <c>q_a_proj</c> → <c>q_a_layernorm</c> → <c>q_b_proj</c> when <c>q_lora_rank</c> is set; a compressed
/// key/value <c>kv_a_proj_with_mqa</c> split into the latent (→ <c>kv_a_layernorm</c> → <c>kv_b_proj</c>, per head
/// [nope | v]) and one rope key shared by every head; RoPE (<see cref="RopeLayout"/>) on the rope features of q and k
/// only; softmax scale (nope + rope)^−½ times YaRN's mscale². Keys (B, nh, S, nope + rope) and values (B, nh, S, v) go
/// into the KV cache as they are (no latent caching).
/// </summary>
public sealed class MlaAttention : nn.Module<AttentionInput, Tensor>
{
    private readonly EmptyLinear? _qProj, _qAProj, _qBProj;
    private readonly RmsNorm? _qALayernorm;
    private readonly EmptyLinear _kvAProj, _kvBProj, _oProj;
    private readonly RmsNorm _kvALayernorm;
    private readonly MlaSpec _mla;
    private readonly int _heads;
    private readonly double _softmaxScale, _mscale2;
    private readonly RotaryEmbedding _rotary;

    public MlaAttention(MoeConfig config, ScalarType dtype, Device device) : base(nameof(MlaAttention))
    {
        _mla = config.Mla ?? throw new ArgumentException("MLA attention needs a config with MLA dimensions", nameof(config));
        _heads = config.NumAttentionHeads;
        _rotary = RotaryEmbedding.FromConfig(config);
        // python: self.scaling = self.qk_head_dim ** (-0.5); with YaRN: self.scaling = self.scaling * mscale * mscale
        _mscale2 = config.Yarn?.SoftmaxScaleFactor ?? 1.0;
        _softmaxScale = Math.Pow(_mla.QkHeadDim, -0.5) * _mscale2;
        int h = config.HiddenSize, qOut = _heads * _mla.QkHeadDim;
        bool bias = config.QkvBias;
        if (_mla.QLoraRank is int ql)
        {
            _qAProj = new EmptyLinear(h, ql, bias, dtype, device);
            _qALayernorm = new RmsNorm(ql, MlaSpec.LoraNormEps, dtype, device);
            _qBProj = new EmptyLinear(ql, qOut, false, dtype, device);
            register_module("q_a_proj", _qAProj);
            register_module("q_a_layernorm", _qALayernorm);
            register_module("q_b_proj", _qBProj);
        }
        else
        {
            _qProj = new EmptyLinear(h, qOut, false, dtype, device);
            register_module("q_proj", _qProj);
        }
        _kvAProj = new EmptyLinear(h, _mla.KvLoraRank + _mla.QkRopeHeadDim, bias, dtype, device);
        _kvALayernorm = new RmsNorm(_mla.KvLoraRank, MlaSpec.LoraNormEps, dtype, device);
        _kvBProj = new EmptyLinear(_mla.KvLoraRank, _heads * (_mla.QkNopeHeadDim + _mla.VHeadDim), false, dtype, device);
        _oProj = new EmptyLinear(_heads * _mla.VHeadDim, h, config.OutputBias, dtype, device);
        register_module("kv_a_proj_with_mqa", _kvAProj);
        register_module("kv_a_layernorm", _kvALayernorm);
        register_module("kv_b_proj", _kvBProj);
        register_module("o_proj", _oProj);
    }

    public RotaryEmbedding Rotary => _rotary;

    public override Tensor forward(AttentionInput input)
    {
        using var scope = NewDisposeScope();
        var x = input.Hidden;                                                            // (B, T, H)
        long b = x.shape[0], t = x.shape[1];
        int nope = _mla.QkNopeHeadDim, rope = _mla.QkRopeHeadDim, vd = _mla.VHeadDim, qk = _mla.QkHeadDim;
        var q = _qProj is not null
            ? _qProj.forward(x)                                                          // (B, T, nh·qk)
            : _qBProj!.forward(_qALayernorm!.forward(_qAProj!.forward(x)));              // (B, T, nh·qk)
        q = q.view(b, t, _heads, qk).transpose(1, 2);                                    // (B, nh, T, qk)
        var compressed = _kvAProj.forward(x);                                            // (B, T, kvl + rope)
        var latent = compressed.narrow(-1, 0, _mla.KvLoraRank);                          // (B, T, kvl)
        var kRot = compressed.narrow(-1, _mla.KvLoraRank, rope).view(b, 1, t, rope);     // (B, 1, T, rope): one head
        var kv = _kvBProj.forward(_kvALayernorm.forward(latent))                         // (B, T, nh·(nope + v))
            .view(b, t, _heads, nope + vd).transpose(1, 2);                              // (B, nh, T, nope + v)
        var kPass = kv.narrow(-1, 0, nope);                                              // (B, nh, T, nope)
        var v = kv.narrow(-1, nope, vd);                                                 // (B, nh, T, v)

        var qRot = q.narrow(-1, nope, rope);                                             // (B, nh, T, rope)
        if (_mla.RopeLayout == RopeLayout.Interleaved)
        {
            qRot = RotaryEmbedding.Deinterleave(qRot);                                   // (B, nh, T, rope)
            kRot = RotaryEmbedding.Deinterleave(kRot);                                   // (B, 1, T, rope)
        }
        var (cos, sin) = input.Positions.For(_rotary, q.dtype);                          // (T, rope) or (B, 1, T, rope)
        qRot = RotaryEmbedding.Apply(qRot, cos, sin);                                    // (B, nh, T, rope)
        kRot = RotaryEmbedding.Apply(kRot, cos, sin);                                    // (B, 1, T, rope)
        q = cat([q.narrow(-1, 0, nope), qRot], -1);                                      // (B, nh, T, qk)
        var k = cat([kPass, kRot.expand(b, _heads, t, rope)], -1);                       // (B, nh, T, qk)
        v = v.contiguous();                                                              // (B, nh, T, v)
        if (input.Cache is not null)
            (k, v) = input.Cache.Append(k, v);                                           // (B, nh, S, qk), (B, nh, S, v)

        Tensor o;                                                                        // (B, nh, T, v)
        if (input.Mask is null && BlockedCausalAttention.Applies(q))
            o = BlockedCausalAttention.Forward(q, k, v, scale: _softmaxScale);           // bf16 inference
        else
        {
            // SDPA scales by qk^-½; YaRN's extra mscale² goes into the queries.
            using var mscale2 = _mscale2.ToScalar();                                     // explicit: see Native/Scalars.cs
            var qs = _mscale2 == 1.0 ? q : q * mscale2;                                  // (B, nh, T, qk)
            o = input.Mask is null
                ? nn.functional.scaled_dot_product_attention(qs, k, v, null, 0.0, true)
                : nn.functional.scaled_dot_product_attention(qs, k, v, input.Mask, 0.0, false);
        }
        o = o.transpose(1, 2).reshape(b, t, _heads * vd);                                // (B, T, nh·v)
        return _oProj.forward(o).MoveToOuterDisposeScope();                              // (B, T, H)
    }
}
