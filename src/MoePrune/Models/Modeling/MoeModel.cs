using MoePrune.Observation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// Model inputs: token ids (B, T) int64; an optional padding mask (1/true = real token) over every slot, (B, T)
/// or with a cache (B, cached + T); optional position ids (B, T) int64 (default: cached + 0..T-1 for every
/// row; a left-padded batch passes <see cref="PositionEmbeddings.PositionIdsFromMask"/>); an optional KV cache
/// that the forward reads and extends.
/// </summary>
public sealed record CausalLMInput(Tensor InputIds, Tensor? AttentionMask = null, bool OutputRouterLogits = false,
                                  Tensor? PositionIds = null, KvCache? Cache = null);

/// <summary>Final hidden states (B, T, H) and, when asked, each sparse layer's router logits (N, E) over the non-padded positions.</summary>
public sealed record MoeModelOutput(Tensor LastHiddenState, IReadOnlyList<Tensor>? RouterLogits);

/// <summary>
/// HF <c>*Model</c>: <c>embed_tokens</c> → <c>layers.{i}</c> → <c>norm</c>. The positions (and through them each
/// distinct rotary's RoPE tables) and the causal / padding / sliding-window mask are built once per forward
/// for all layers. MTP layers (<c>layers.{num_hidden_layers + j}</c>) are held after the decoder layers and not run.
/// </summary>
public sealed class MoeModel : nn.Module<CausalLMInput, MoeModelOutput>
{
    private readonly EmptyEmbedding _embedTokens;
    private readonly ModuleList<DecoderLayer> _layers;
    private readonly RmsNorm _norm;
    private readonly MoeConfig _config;
    private readonly IReadOnlyList<IMoeObserver> _observers;

    public MoeModel(MoeConfig config, IReadOnlyList<IMoeObserver> observers, ScalarType dtype, Device device,
                    MtpHeadLayout mtpHead = MtpHeadLayout.Full) : base(nameof(MoeModel))
    {
        _config = config;
        _observers = observers;
        _embedTokens = new EmptyEmbedding(config.VocabSize, config.HiddenSize, dtype, device);
        _layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.StoredLayers)
            .Select(i => new DecoderLayer(config, i, observers, dtype, device, mtpHead)).ToArray());
        _norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        register_module("embed_tokens", _embedTokens);
        register_module("layers", _layers);
        register_module("norm", _norm);
    }

    public EmptyEmbedding EmbedTokens => _embedTokens;
    /// <summary>The decoder layers the forward runs (MTP layers excluded).</summary>
    public IReadOnlyList<DecoderLayer> Layers => _layers.Take(_config.NumHiddenLayers).ToArray();
    /// <summary>The MTP layers (empty without <c>num_nextn_predict_layers</c>).</summary>
    public IReadOnlyList<DecoderLayer> MtpLayers => _layers.Skip(_config.NumHiddenLayers).ToArray();

    public override MoeModelOutput forward(CausalLMInput input)
    {
        using var scope = NewDisposeScope();
        var ids = input.InputIds;                                                      // (B, T) int64
        long b = ids.shape[0], t = ids.shape[1], past = input.Cache?.Length ?? 0;
        CheckShapes(input, b, t, past);
        var x = _embedTokens.forward(ids);                                             // (B, T, H)
        using var positions = new PositionEmbeddings(t, x.device, past, input.PositionIds);
        var keyValid = Padding(input.AttentionMask);                                   // (B, S) bool or null
        var mask = AttentionMasks.Build(b, t, past, keyValid, _config.SlidingWindow, x.device); // (B, 1, T, S) or null
        var queryValid = past == 0 ? keyValid : Padding(keyValid?.narrow(1, past, t)); // (B, T) bool or null
        var validRows = queryValid?.reshape(-1).nonzero().reshape(-1);                 // (N) int64 or null
        Tensor? tokenIds = null;
        if (_observers.Count > 0)
            tokenIds = validRows is null ? ids.reshape(-1) : ids.reshape(-1).index_select(0, validRows); // (N)

        var routerLogits = input.OutputRouterLogits ? new List<Tensor>() : null;
        for (int i = 0; i < _config.NumHiddenLayers; i++)
        {
            var output = _layers[i].forward(new DecoderLayerInput(x, positions, mask, validRows, tokenIds, input.Cache?[i]));
            x = output.Hidden;                                                         // (B, T, H)
            if (routerLogits is not null && output.RouterLogits is not null)
                routerLogits.Add(output.RouterLogits.MoveToOuterDisposeScope());       // (N, E)
        }
        x = _norm.forward(x);                                                          // (B, T, H)
        return new MoeModelOutput(x.MoveToOuterDisposeScope(), routerLogits);
    }

    /// <summary>(B, ·) bool of real tokens, or null when the mask is absent or marks nothing as padding.</summary>
    private static Tensor? Padding(Tensor? attentionMask)
    {
        if (attentionMask is null) return null;
        var valid = attentionMask.to(ScalarType.Bool);                                 // (B, ·)
        return valid.all().item<bool>() ? null : valid;
    }

    private void CheckShapes(CausalLMInput input, long b, long t, long past)
    {
        if (input.Cache is { } cache && cache.NumLayers != _config.NumHiddenLayers)
            throw new ArgumentException($"the KV cache has {cache.NumLayers} layers, the model {_config.NumHiddenLayers}");
        if (input.AttentionMask is { } m && (m.dim() != 2 || m.shape[0] != b || m.shape[1] != past + t))
            throw new ArgumentException($"attention mask [{string.Join(", ", m.shape)}], expected [{b}, {past + t}] (cached + new tokens)");
        if (input.PositionIds is { } p && (p.dim() != 2 || p.shape[0] != b || p.shape[1] != t))
            throw new ArgumentException($"position ids [{string.Join(", ", p.shape)}], expected [{b}, {t}]");
    }
}
