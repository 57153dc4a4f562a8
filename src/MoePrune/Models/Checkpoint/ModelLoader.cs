using System.IO.Hashing;
using MoePrune.IO;
using MoePrune.Quantization.Fp8;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// Builds a model from a Hugging Face checkpoint directory and loads its weights strictly (every parameter
/// filled exactly once, no tensor left over, shapes as the config implies), per-expert or fused layout,
/// hashing every tensor's bytes as they are read for the model's <see cref="MoeForCausalLM.Fingerprint"/>;
/// and writes a model back in the family's per-expert on-disk naming.
/// </summary>
public static class ModelLoader
{
    /// <summary>Reads config.json and the safetensors of <paramref name="dir"/>.</summary>
    /// <param name="dtype">Compute/parameter dtype; the checkpoint's (<c>torch_dtype</c>) when null.</param>
    public static MoeForCausalLM Load(string dir, ScalarType? dtype = null) => Load(dir, dtype, fingerprint: true);

    /// <summary>As <see cref="Load(string, ScalarType?)"/>; without <paramref name="fingerprint"/> nothing is hashed (benchmarks measure the difference).</summary>
    internal static MoeForCausalLM Load(string dir, ScalarType? dtype, bool fingerprint)
    {
        using var checkpoint = CheckpointDirectory.Open(dir);
        var config = MoeConfig.Parse(checkpoint.Config, Path.Combine(dir, CheckpointDirectory.ConfigFile));
        var model = new MoeForCausalLM(config, dtype ?? CheckpointDtype(checkpoint, config),
                                       mtpHead: MtpHead.Detect(config, checkpoint.Tensors.Keys));
        var digests = fingerprint ? new TensorDigests() : null;
        try
        {
            LoadWeights(model, checkpoint, digests);
            if (digests is not null) model.Fingerprint = CheckpointFingerprint.Combine(checkpoint, digests);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    /// <summary>
    /// Fills every parameter of <paramref name="model"/> from <paramref name="checkpoint"/> (strict), each checkpoint
    /// tensor read once; with <paramref name="digests"/>, the bytes of each are hashed as they are read. FP8 weights are
    /// dequantized with their block scales (one float32 product per element, then the model dtype) and recorded in
    /// <see cref="MoeForCausalLM.Fp8"/>.
    /// </summary>
    public static void LoadWeights(MoeForCausalLM model, CheckpointDirectory checkpoint, TensorDigests? digests = null)
    {
        var plan = CheckpointLayout.Plan(model, checkpoint.Tensors, checkpoint.Dir);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var hash = digests is null ? null : new XxHash128();
        Fp8Weights? fp8 = plan.Any(p => p.ScaleName is not null) ? new Fp8Weights(model.Config.Fp8!) : null;
        using var noGrad = no_grad();
        try
        {
            foreach (var placement in plan)
            {
                if (placement.ScaleName is string scaleName)
                    LoadFp8(placement.DiskName, scaleName, parameters[placement.Targets[0].Param], checkpoint, fp8!, digests, hash);
                else
                    Load(placement, parameters, checkpoint, digests, hash);
            }
        }
        catch
        {
            fp8?.Dispose();
            throw;
        }
        model.Fp8?.Dispose();
        model.Fp8 = fp8;
    }

    /// <summary>One plain checkpoint tensor into its parameter(s).</summary>
    private static void Load(TensorPlacement placement, Dictionary<string, Parameter> parameters, CheckpointDirectory checkpoint,
                             TensorDigests? digests, XxHash128? hash)
    {
        if (placement.IsWhole)
        {
            checkpoint.ReadInto(placement.DiskName, parameters[placement.Targets[0].Param], hash);
            digests?.Add(placement.DiskName, hash!);
            return;
        }
        using var scope = NewDisposeScope();
        var fused = checkpoint.Read(placement.DiskName, hash);           // (E, 2I, H) or (E, H, I), file dtype
        digests?.Add(placement.DiskName, hash!);
        foreach (var (param, expert, offset, rows) in placement.Targets)
            parameters[param].copy_(fused[expert].narrow(0, offset, rows)); // (I, H) / (H, I)
    }

    /// <summary>An FP8 weight: codes and scale read (and hashed), dequantized into the parameter, the scale recorded.</summary>
    private static void LoadFp8(string name, string scaleName, Parameter parameter, CheckpointDirectory checkpoint,
                                Fp8Weights fp8, TensorDigests? digests, XxHash128? hash)
    {
        using var scope = NewDisposeScope();
        var codes = checkpoint.Read(name, hash);                                         // (R, C) uint8
        digests?.Add(name, hash!);
        var scale = checkpoint.Read(scaleName, hash);                                    // (R/b0, C/b1) fp32
        digests?.Add(scaleName, hash!);
        parameter.copy_(fp8.Dequantize(codes, scale, name));                             // fp32 → model dtype
        fp8.Add(name, scale);
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a Hugging Face directory: config patched by <see cref="MoeConfig.ToJson"/>,
    /// per-expert tensor names, shards of at most <paramref name="maxShardBytes"/>, tokenizer files copied from
    /// <paramref name="copyAuxFrom"/>. A model loaded from FP8 writes those weights back as F8_E4M3 with their scales
    /// (<see cref="ModelTensorSource"/>).
    /// </summary>
    public static void Save(MoeForCausalLM model, string outDir, long maxShardBytes = 5_000_000_000, string? copyAuxFrom = null)
    {
        if (model.Fp8 is not null)
        {
            using var source = new ModelTensorSource(model);
            var outputs = source.Tensors.Values.Select(t => new OutputTensor(t.Name, t.Dtype, t.Shape, s => source.CopyBytes(t.Name, s)));
            CheckpointWriter.WriteOutputs(outDir, model.Config.ToJson(model.Dtype), outputs, maxShardBytes, copyAuxFrom);
            return;
        }
        var tensors = model.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach()));
        CheckpointWriter.Write(outDir, model.Config.ToJson(model.Dtype), tensors, maxShardBytes, copyAuxFrom, disposeTensors: true);
    }

    /// <summary>The config's dtype, or the dtype of the stored floating-point tensors when the config names none.</summary>
    private static ScalarType CheckpointDtype(CheckpointDirectory checkpoint, MoeConfig config)
    {
        if (config.Source.ContainsKey("torch_dtype") || config.Source.ContainsKey("dtype")) return config.Dtype;
        var stored = checkpoint.Tensors
            .Where(kv => kv.Value.Dtype != SafeDtype.F8_E4M3 && !CheckpointLayout.IsFp8Scale(kv.Key, checkpoint.Tensors)
                         && !kv.Key.EndsWith(Router.ScoreCorrectionBiasName, StringComparison.Ordinal)) // fp32 in every dtype
            .Select(kv => SafeDtypes.ToTorch(kv.Value.Dtype)).Distinct().ToList();
        return stored is [ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16] ? stored[0] : config.Dtype;
    }
}
