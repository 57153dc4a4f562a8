using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// Decoder-layer inputs: hidden (B, T, H); the forward's positions (RoPE tables per rotary); optional bool
/// attention mask (B, 1, T, S) over S = cached + T slots; the flat indices (N) of the non-padded positions
/// (null when nothing is padded) and their token ids (N); optional KV cache of this layer.
/// </summary>
public sealed record DecoderLayerInput(Tensor Hidden, PositionEmbeddings Positions, Tensor? Mask, Tensor? ValidRows, Tensor? TokenIds,
                                       LayerKvCache? Cache = null);

/// <summary>Hidden (B, T, H) and, for sparse layers, the router logits (N, E) of the non-padded positions.</summary>
public sealed record DecoderLayerOutput(Tensor Hidden, Tensor? RouterLogits);

/// <summary>
/// Pre-norm decoder layer (HF <c>*DecoderLayer</c>): x + self_attn(input_layernorm(x)), then
/// x + mlp(post_attention_layernorm(x)) where the MLP is the sparse block (on disk <c>block_sparse_moe</c> or
/// <c>mlp</c>) or, for dense layers (the family's <see cref="Families.MoeLayerRule"/>), a <see cref="SwiGluMlp"/>
/// named <c>mlp</c>. The attention module comes from the family's factory. Padded positions are not routed.
/// An MTP layer (index ≥ num_hidden_layers) is a sparse layer that also holds its <see cref="MtpHead"/> tensors.
/// </summary>
public sealed class DecoderLayer : nn.Module<DecoderLayerInput, DecoderLayerOutput>
{
    private readonly nn.Module<AttentionInput, Tensor> _selfAttn;
    private readonly RmsNorm _inputLayernorm, _postAttentionLayernorm;
    private readonly SparseMoeBlock? _moe;
    private readonly SwiGluMlp? _mlp;

    public DecoderLayer(MoeConfig config, int layerIndex, IReadOnlyList<Observation.IMoeObserver> observers, ScalarType dtype, Device device,
                        MtpHeadLayout mtpHead = MtpHeadLayout.Full)
        : base(nameof(DecoderLayer))
    {
        _selfAttn = config.Family.CreateAttention(config, dtype, device);
        _inputLayernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        _postAttentionLayernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        register_module("self_attn", _selfAttn);
        if (config.IsMoeLayer(layerIndex))
        {
            _moe = new SparseMoeBlock(config, layerIndex, observers, dtype, device);
            register_module(config.Family.MoeModuleName, _moe);
        }
        else
        {
            _mlp = new SwiGluMlp(config.HiddenSize, config.DenseIntermediateSize, ("gate_proj", "up_proj", "down_proj"), dtype, device);
            register_module("mlp", _mlp);
        }
        register_module("input_layernorm", _inputLayernorm);
        register_module("post_attention_layernorm", _postAttentionLayernorm);
        IsMtp = config.IsMtpLayer(layerIndex);
        if (IsMtp) MtpHead.Register(this, config, mtpHead, dtype, device);
    }

    /// <summary>True for an MTP layer (stored and pruned, never run by <see cref="MoeModel"/>).</summary>
    public bool IsMtp { get; }

    /// <summary>The sparse block, or null for a dense layer.</summary>
    public SparseMoeBlock? Moe => _moe;

    public override DecoderLayerOutput forward(DecoderLayerInput input)
    {
        using var scope = NewDisposeScope();
        var x = input.Hidden;                                                          // (B, T, H)
        var attn = _selfAttn.forward(new AttentionInput(_inputLayernorm.forward(x), input.Positions, input.Mask, input.Cache));
        x = x + attn;                                                                  // (B, T, H)
        var h = _postAttentionLayernorm.forward(x);                                    // (B, T, H)
        if (_mlp is not null)
            return new DecoderLayerOutput((x + _mlp.forward(h)).MoveToOuterDisposeScope(), null);

        long b = h.shape[0], t = h.shape[1], hidden = h.shape[2];
        var flat = h.reshape(b * t, hidden);                                           // (B·T, H)
        var rows = input.ValidRows is null ? flat : flat.index_select(0, input.ValidRows); // (N, H)
        var moe = _moe!.forward(new MoeBlockInput(rows, input.TokenIds));              // (N, H), (N, E)
        var full = input.ValidRows is null
            ? moe.Hidden                                                               // (B·T, H)
            : zeros_like(flat).index_copy_(0, input.ValidRows, moe.Hidden);            // (B·T, H), zeros at padding
        x = x + full.view(b, t, hidden);                                               // (B, T, H)
        return new DecoderLayerOutput(x.MoveToOuterDisposeScope(), moe.RouterLogits.MoveToOuterDisposeScope());
    }
}
