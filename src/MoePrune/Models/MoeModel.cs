using MoePrune.Observation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>Model inputs: token ids (B, T) int64 and an optional right-padding mask (B, T) (1/true = real token).</summary>
public sealed record CausalLMInput(Tensor InputIds, Tensor? AttentionMask = null, bool OutputRouterLogits = false);

/// <summary>Final hidden states (B, T, H) and, when asked, each sparse layer's router logits (N, E) over the non-padded positions.</summary>
public sealed record MoeModelOutput(Tensor LastHiddenState, IReadOnlyList<Tensor>? RouterLogits);

/// <summary>
/// HF <c>*Model</c>: <c>embed_tokens</c> → <c>layers.{i}</c> → <c>norm</c>, with RoPE computed once per
/// forward and the causal / padding / sliding-window mask built once for all layers.
/// </summary>
public sealed class MoeModel : nn.Module<CausalLMInput, MoeModelOutput>
{
    private readonly EmptyEmbedding _embedTokens;
    private readonly ModuleList<DecoderLayer> _layers;
    private readonly RmsNorm _norm;
    private readonly RotaryEmbedding _rotary;
    private readonly MoeConfig _config;
    private readonly IReadOnlyList<IMoeObserver> _observers;

    public MoeModel(MoeConfig config, IReadOnlyList<IMoeObserver> observers, ScalarType dtype, Device device) : base(nameof(MoeModel))
    {
        _config = config;
        _observers = observers;
        _embedTokens = new EmptyEmbedding(config.VocabSize, config.HiddenSize, dtype, device);
        _layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers)
            .Select(i => new DecoderLayer(config, i, observers, dtype, device)).ToArray());
        _norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        _rotary = new RotaryEmbedding(config.HeadDim, config.RopeTheta);
        register_module("embed_tokens", _embedTokens);
        register_module("layers", _layers);
        register_module("norm", _norm);
    }

    public EmptyEmbedding EmbedTokens => _embedTokens;
    public IReadOnlyList<DecoderLayer> Layers => _layers.ToArray();

    public override MoeModelOutput forward(CausalLMInput input)
    {
        using var scope = NewDisposeScope();
        var ids = input.InputIds;                                                      // (B, T) int64
        long b = ids.shape[0], t = ids.shape[1];
        var x = _embedTokens.forward(ids);                                             // (B, T, H)
        var (cos, sin) = _rotary.Compute(t, x.dtype, x.device);                        // (T, hd) each
        var keyValid = Padding(input.AttentionMask);                                   // (B, T) bool or null
        var mask = AttentionMasks.Build(b, t, keyValid, _config.SlidingWindow, x.device); // (B, 1, T, T) or null
        var validRows = keyValid?.reshape(-1).nonzero().reshape(-1);                   // (N) int64 or null
        Tensor? tokenIds = null;
        if (_observers.Count > 0)
            tokenIds = validRows is null ? ids.reshape(-1) : ids.reshape(-1).index_select(0, validRows); // (N)

        var routerLogits = input.OutputRouterLogits ? new List<Tensor>() : null;
        foreach (var layer in _layers)
        {
            var output = layer.forward(new DecoderLayerInput(x, cos, sin, mask, validRows, tokenIds));
            x = output.Hidden;                                                         // (B, T, H)
            if (routerLogits is not null && output.RouterLogits is not null)
                routerLogits.Add(output.RouterLogits.MoveToOuterDisposeScope());       // (N, E)
        }
        x = _norm.forward(x);                                                          // (B, T, H)
        return new MoeModelOutput(x.MoveToOuterDisposeScope(), routerLogits);
    }

    /// <summary>(B, T) bool of real tokens, or null when the mask is absent or marks nothing as padding.</summary>
    private static Tensor? Padding(Tensor? attentionMask)
    {
        if (attentionMask is null) return null;
        var valid = attentionMask.to(ScalarType.Bool);                                 // (B, T)
        return valid.all().item<bool>() ? null : valid;
    }
}
