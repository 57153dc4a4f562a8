using System.Diagnostics;
using System.IO.Hashing;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>
/// A Hugging Face checkpoint opened for layer-by-layer execution: only the headers are read at open (and checked as
/// strictly as <see cref="ModelLoader"/> does, per-expert or fused layout); each part — the embedding, one decoder
/// layer, the final norm, the output projection — is built and filled on demand and belongs to the caller. Every
/// stored tensor is hashed the first time it is read, so <see cref="Fingerprint"/> equals the fingerprint of a full
/// load after reading only what was left. Reads are counted (<see cref="BytesRead"/>, <see cref="ReadSeconds"/>).
/// </summary>
public sealed class LayerwiseCheckpoint : IDisposable
{
    private readonly CheckpointDirectory _checkpoint;
    private readonly Dictionary<int, List<TensorPlacement>> _layers;
    private readonly List<TensorPlacement> _others;
    private readonly TensorDigests _digests = new();
    private readonly HashSet<string> _hashed = [];
    private readonly XxHash128 _hash = new();
    private string? _fingerprint;
    private Quantization.Fp8.Fp8Weights? _fp8;

    private LayerwiseCheckpoint(CheckpointDirectory checkpoint, MoeConfig config, ScalarType dtype, CheckpointSizes sizes,
                                IReadOnlyList<TensorPlacement> plan)
    {
        _checkpoint = checkpoint;
        Config = config;
        Dtype = dtype;
        Sizes = sizes;
        _layers = plan.Where(p => TensorOrder.LayerOf(p.DiskName) is not null)
                      .GroupBy(p => TensorOrder.LayerOf(p.DiskName)!.Value).ToDictionary(g => g.Key, g => g.ToList());
        _others = plan.Where(p => TensorOrder.LayerOf(p.DiskName) is null).ToList();
    }

    public MoeConfig Config { get; }
    /// <summary>The compute dtype: the requested one, else the checkpoint's (as <see cref="ModelLoader.Load(string, ScalarType?)"/> picks it).</summary>
    public ScalarType Dtype { get; }
    public CheckpointSizes Sizes { get; }
    public string Dir => _checkpoint.Dir;
    /// <summary>Shard files in index order (relative to <see cref="Dir"/>).</summary>
    public IReadOnlyList<string> ShardFiles => _checkpoint.ShardFiles;

    /// <summary>Stored bytes read so far (tensor data, hashing-only reads included).</summary>
    public long BytesRead { get; private set; }
    /// <summary>Wall-clock seconds spent in those reads.</summary>
    public double ReadSeconds { get; private set; }

    /// <summary>MoE layer → (experts, top-k), from the config.</summary>
    public IReadOnlyDictionary<int, (int NumExperts, int TopK)> MoeShapes =>
        Config.MoeLayerIndices.ToDictionary(l => l, l => (Config.ExpertsInLayer(l), Config.TopK));

    /// <summary>Opens <paramref name="dir"/>: headers and config only; a checkpoint that would not load is refused here.</summary>
    /// <param name="dtype">Compute dtype; the checkpoint's when null.</param>
    public static LayerwiseCheckpoint Open(string dir, ScalarType? dtype = null)
    {
        var checkpoint = CheckpointDirectory.Open(dir);
        try
        {
            var config = MoeConfig.Parse(checkpoint.Config, Path.Combine(dir, CheckpointDirectory.ConfigFile));
            var computeDtype = dtype ?? ModelLoader.CheckpointDtype(checkpoint, config);
            using var shapes = new MoeForCausalLM(config, computeDtype, CheckpointSizes.Meta, MtpHead.Detect(config, checkpoint.Tensors.Keys));
            var plan = CheckpointLayout.Plan(shapes, checkpoint.Tensors, dir);
            return new LayerwiseCheckpoint(checkpoint, config, computeDtype, CheckpointSizes.From(shapes), plan);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>The embedding module, filled (the caller disposes it).</summary>
    public EmptyEmbedding LoadEmbedding()
    {
        var embedding = new EmptyEmbedding(Config.VocabSize, Config.HiddenSize, Dtype, CPU);
        return Filled(embedding, "model.embed_tokens.", Others("model.embed_tokens.weight"));
    }

    /// <summary>Decoder layer <paramref name="layer"/>, filled, in eval mode, reporting to <paramref name="observers"/> (the caller disposes it).</summary>
    public DecoderLayer LoadLayer(int layer, IReadOnlyList<IMoeObserver> observers)
    {
        if (!_layers.TryGetValue(layer, out var placements))
            throw new ArgumentOutOfRangeException(nameof(layer), $"{Dir}: no decoder layer {layer}");
        return Filled(new DecoderLayer(Config, layer, observers, Dtype, CPU), $"model.layers.{layer}.", placements);
    }

    /// <summary>The final norm, filled (the caller disposes it).</summary>
    public RmsNorm LoadNorm() =>
        Filled(new RmsNorm(Config.HiddenSize, Config.RmsNormEps, Dtype, CPU), "model.norm.", Others("model.norm.weight"));

    /// <summary>(V, H) the output projection: lm_head, or the embedding matrix when tied (the caller disposes it).</summary>
    public Tensor LoadOutputWeight()
    {
        string name = Config.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
        var weight = empty(Config.VocabSize, Config.HiddenSize, Dtype, CPU);                 // (V, H)
        try
        {
            Fill(new Dictionary<string, Tensor> { [name] = weight }, Others(name));
            return weight;
        }
        catch
        {
            weight.Dispose();
            throw;
        }
    }

    /// <summary>The checkpoint fingerprint (<see cref="CheckpointFingerprint"/>): hashes the tensors not read yet, then combines.</summary>
    public string Fingerprint()
    {
        if (_fingerprint is not null) return _fingerprint;
        foreach (var shard in _checkpoint.ShardFiles)
        {
            var file = _checkpoint.Shard(shard);
            foreach (var (name, entry) in file.Tensors)
            {
                if (_hashed.Contains(name)) continue;
                Timed(entry.Bytes, () => file.Hash(name, _hash));
                _digests.Add(name, _hash);
                _hashed.Add(name);
            }
        }
        return _fingerprint = CheckpointFingerprint.Combine(_checkpoint, _digests);
    }

    public void Dispose()
    {
        _fp8?.Dispose();
        _checkpoint.Dispose();
    }

    private IEnumerable<TensorPlacement> Others(string param) => _others.Where(p => p.Targets.Any(t => t.Param == param));

    private T Filled<T>(T module, string prefix, IEnumerable<TensorPlacement> placements) where T : nn.Module
    {
        try
        {
            Fill(module.named_parameters().ToDictionary(p => prefix + p.name, p => (Tensor)p.parameter), placements);
            module.eval();
            return module;
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Fills every named tensor from the placements that hold it; each must be filled exactly once.</summary>
    private void Fill(IReadOnlyDictionary<string, Tensor> targets, IEnumerable<TensorPlacement> placements)
    {
        var filled = new HashSet<string>();
        using var noGrad = no_grad();
        foreach (var placement in placements)
        {
            foreach (var t in placement.Targets)
                if (!targets.ContainsKey(t.Param) || !filled.Add(t.Param))
                    throw new InvalidOperationException($"{Dir}: {placement.DiskName} fills {t.Param}, which the part being loaded lacks or already has");
            Read(placement, targets);
        }
        var missing = targets.Keys.Where(k => !filled.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"{Dir}: nothing fills {string.Join(", ", missing)}");
    }

    /// <summary>Reads one stored tensor into its targets; its bytes are hashed on first read (in file order).</summary>
    private void Read(TensorPlacement placement, IReadOnlyDictionary<string, Tensor> targets)
    {
        var file = _checkpoint.FileOf(placement.DiskName);
        var entry = file.Entry(placement.DiskName);
        var hash = _hashed.Contains(placement.DiskName) ? null : _hash;
        if (placement.ScaleName is string scaleName)
        {
            ReadFp8(placement, scaleName, targets[placement.Targets[0].Param], hash);
            return;
        }
        Timed(entry.Bytes, () =>
        {
            if (placement.IsWhole)
            {
                file.ReadInto(placement.DiskName, targets[placement.Targets[0].Param], hash);
                return;
            }
            // fused experts: each target is a contiguous slice; in offset order they tile the stored tensor
            var slices = placement.Targets.Select(t => (t.Param, Offset: t.ElementOffset(entry.Shape))).OrderBy(s => s.Offset).ToList();
            long next = 0;
            bool tiles = true;
            foreach (var (param, offset) in slices)
            {
                tiles &= offset == next;
                next = offset + targets[param].NumberOfElements;
            }
            tiles &= next == entry.Elements;
            foreach (var (param, offset) in slices)
                file.ReadSliceInto(placement.DiskName, offset, targets[param], tiles ? hash : null);
            if (!tiles && hash is not null) file.Hash(placement.DiskName, hash);
        });
        if (hash is null) return;
        _digests.Add(placement.DiskName, hash);
        _hashed.Add(placement.DiskName);
    }

    /// <summary>An FP8 weight: codes and scale read (and hashed), dequantized into the target as <see cref="ModelLoader"/> does.</summary>
    private void ReadFp8(TensorPlacement placement, string scaleName, Tensor target, XxHash128? hash)
    {
        using var scope = NewDisposeScope();
        _fp8 ??= new Quantization.Fp8.Fp8Weights(Config.Fp8!);
        var file = _checkpoint.FileOf(placement.DiskName);
        var scaleFile = _checkpoint.FileOf(scaleName);
        Tensor codes = null!, scale = null!;
        Timed(file.Entry(placement.DiskName).Bytes, () => codes = file.Read(placement.DiskName, hash));  // (R, C) uint8
        Digested(placement.DiskName, hash);
        Timed(scaleFile.Entry(scaleName).Bytes, () => scale = scaleFile.Read(scaleName, hash));       // (R/b0, C/b1) fp32
        Digested(scaleName, hash);
        target.copy_(_fp8.Dequantize(codes, scale, placement.DiskName));                               // fp32 → model dtype
    }

    private void Digested(string name, XxHash128? hash)
    {
        if (hash is null) return;
        _digests.Add(name, hash);
        _hashed.Add(name);
    }

    private void Timed(long bytes, Action read)
    {
        var clock = Stopwatch.StartNew();
        read();
        ReadSeconds += clock.Elapsed.TotalSeconds;
        BytesRead += bytes;
    }
}
