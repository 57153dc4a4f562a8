using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>Logits (B, T, V) in the model dtype and, when asked, each sparse layer's router logits (N, E).</summary>
public sealed record CausalLMOutput(Tensor Logits, IReadOnlyList<Tensor>? RouterLogits);

/// <summary>
/// HF <c>*ForCausalLM</c> for every supported family: <c>model</c> (<see cref="MoeModel"/>) and
/// <c>lm_head</c> (absent when <c>tie_word_embeddings</c>; the embedding matrix is used instead).
/// Build with <see cref="MoeForCausalLM(MoeConfig, ScalarType?, Device?)"/> (weights uninitialised;
/// the meta device gives a shape-only model) or load with <see cref="ModelLoader"/>.
/// </summary>
public sealed class MoeForCausalLM : nn.Module<CausalLMInput, CausalLMOutput>
{
    private readonly MoeModel _model;
    private readonly EmptyLinear? _lmHead;
    private readonly List<IMoeObserver> _observers = [];

    /// <param name="dtype">Parameter dtype; the config's dtype when null.</param>
    /// <param name="device">CPU when null; <c>new Device(DeviceType.META)</c> for shape-only builds.</param>
    public MoeForCausalLM(MoeConfig config, ScalarType? dtype = null, Device? device = null) : base(nameof(MoeForCausalLM))
    {
        Config = config;
        Dtype = dtype ?? config.Dtype;
        device ??= CPU;
        _model = new MoeModel(config, _observers, Dtype, device);
        register_module("model", _model);
        if (!config.TieWordEmbeddings)
        {
            _lmHead = new EmptyLinear(config.HiddenSize, config.VocabSize, false, Dtype, device);
            register_module("lm_head", _lmHead);
        }
        MoeLayers = _model.Layers.Where(l => l.Moe is not null).Select(l => (IMoeLayerView)l.Moe!).ToArray();
    }

    public MoeConfig Config { get; }

    /// <summary>Fingerprint of the checkpoint the weights were read from (<c>IO.CheckpointFingerprint</c>); null for a model built in memory.</summary>
    public string? Fingerprint { get; internal set; }
    public ScalarType Dtype { get; }
    public MoeModel Model => _model;

    /// <summary>Observers that receive a <see cref="RoutingEvent"/> from every sparse layer on every forward.</summary>
    public IList<IMoeObserver> Observers => _observers;

    /// <summary>The sparse layers in layer order (dense layers are skipped).</summary>
    public IReadOnlyList<IMoeLayerView> MoeLayers { get; }

    /// <summary>The output projection: lm_head, or the embedding matrix when tied. (V, H)</summary>
    public Tensor OutputWeight => _lmHead?.Weight ?? _model.EmbedTokens.Weight;

    public override CausalLMOutput forward(CausalLMInput input)
    {
        using var scope = NewDisposeScope();
        var output = _model.forward(input);                                            // (B, T, H)
        var logits = nn.functional.linear(output.LastHiddenState, OutputWeight);       // (B, T, V)
        if (output.RouterLogits is not null)
            foreach (var r in output.RouterLogits) r.MoveToOuterDisposeScope();
        return new CausalLMOutput(logits.MoveToOuterDisposeScope(), output.RouterLogits);
    }

    /// <summary>Convenience: logits (B, T, V) for ids (B, T) and an optional padding mask (B, T).</summary>
    public Tensor Logits(Tensor inputIds, Tensor? attentionMask = null) =>
        forward(new CausalLMInput(inputIds, attentionMask)).Logits;

    /// <summary>Number of parameters (all, and those a token touches: top-k routed experts per sparse layer).</summary>
    public (long Total, long Active) CountParameters()
    {
        long total = parameters().Sum(p => p.numel());
        long inactive = 0;
        foreach (var layer in MoeLayers)
        {
            long perExpert = 3L * layer.HiddenSize * layer.ExpertIntermediateSize;
            inactive += (layer.NumExperts - layer.TopK) * perExpert;
        }
        return (total, total - inactive);
    }
}
