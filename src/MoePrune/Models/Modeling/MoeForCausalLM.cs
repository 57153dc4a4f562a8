using MoePrune.Observation;
using MoePrune.Quantization.Fp8;
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
    /// <param name="mtpHead">The head tensors of MTP layers (a checkpoint's: <see cref="MtpHead.Detect"/>); unused without MTP layers.</param>
    public MoeForCausalLM(MoeConfig config, ScalarType? dtype = null, Device? device = null, MtpHeadLayout mtpHead = MtpHeadLayout.Full)
        : base(nameof(MoeForCausalLM))
    {
        Config = config;
        Dtype = dtype ?? config.Dtype;
        MtpLayout = mtpHead;
        device ??= CPU;
        _model = new MoeModel(config, _observers, Dtype, device, mtpHead);
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
    /// <summary>The head tensors its MTP layers hold.</summary>
    public MtpHeadLayout MtpLayout { get; }
    public MoeModel Model => _model;

    /// <summary>
    /// FP8 provenance: the block scales of the weights that were loaded from float8_e4m3fn (set by <see cref="ModelLoader"/>;
    /// null for a plain model). Exports write those weights back as FP8 with these scales. Owned by the model.
    /// </summary>
    public Fp8Weights? Fp8 { get; internal set; }

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

    /// <summary>
    /// Number of parameters of the forward (all — the router's fp32 score-correction bias included — and those a token
    /// touches: top-k routed experts per sparse layer). MTP layers are not counted (<see cref="CountMtpParameters"/>).
    /// </summary>
    public (long Total, long Active) CountParameters()
    {
        long total = parameters().Sum(p => p.numel()) - CountMtpParameters();
        long inactive = 0;
        foreach (var layer in MoeLayers)
        {
            long perExpert = 3L * layer.HiddenSize * layer.ExpertIntermediateSize;
            inactive += (layer.NumExperts - layer.TopK) * perExpert;
        }
        return (total, total - inactive);
    }

    /// <summary>Elements of every MTP layer's tensors (decoder layer and head).</summary>
    public long CountMtpParameters() => _model.MtpLayers.Sum(l => l.parameters().Sum(p => p.numel()));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Fp8?.Dispose();
            Fp8 = null;
        }
        base.Dispose(disposing);
    }
}
