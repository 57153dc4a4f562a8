using System.IO.Hashing;
using MoePrune.IO;
using TorchSharp;
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
        var model = new MoeForCausalLM(config, dtype ?? CheckpointDtype(checkpoint, config));
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
    /// tensor read once; with <paramref name="digests"/>, the bytes of each are hashed as they are read.
    /// </summary>
    public static void LoadWeights(MoeForCausalLM model, CheckpointDirectory checkpoint, TensorDigests? digests = null)
    {
        var plan = CheckpointLayout.Plan(model, checkpoint.Tensors, checkpoint.Dir);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var hash = digests is null ? null : new XxHash128();
        using var noGrad = no_grad();
        foreach (var placement in plan)
        {
            if (placement.IsWhole)
            {
                checkpoint.ReadInto(placement.DiskName, parameters[placement.Targets[0].Param], hash);
                digests?.Add(placement.DiskName, hash!);
                continue;
            }
            using var scope = NewDisposeScope();
            var fused = checkpoint.Read(placement.DiskName, hash);           // (E, 2I, H) or (E, H, I), file dtype
            digests?.Add(placement.DiskName, hash!);
            foreach (var (param, expert, offset, rows) in placement.Targets)
                parameters[param].copy_(fused[expert].narrow(0, offset, rows)); // (I, H) / (H, I)
        }
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a Hugging Face directory: config patched by <see cref="MoeConfig.ToJson"/>,
    /// per-expert tensor names, shards of at most <paramref name="maxShardBytes"/>, tokenizer files copied from
    /// <paramref name="copyAuxFrom"/>.
    /// </summary>
    public static void Save(MoeForCausalLM model, string outDir, long maxShardBytes = 5_000_000_000, string? copyAuxFrom = null)
    {
        var tensors = model.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach()));
        CheckpointWriter.Write(outDir, model.Config.ToJson(model.Dtype), tensors, maxShardBytes, copyAuxFrom, disposeTensors: true);
    }

    /// <summary>The config's dtype, or the dtype of the stored floating-point tensors when the config names none.</summary>
    public static ScalarType CheckpointDtype(CheckpointDirectory checkpoint, MoeConfig config)
    {
        if (config.Source.ContainsKey("torch_dtype") || config.Source.ContainsKey("dtype")) return config.Dtype;
        var stored = checkpoint.Tensors.Values.Select(e => SafeDtypes.ToTorch(e.Dtype)).Distinct().ToList();
        return stored is [ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16] ? stored[0] : config.Dtype;
    }
}
