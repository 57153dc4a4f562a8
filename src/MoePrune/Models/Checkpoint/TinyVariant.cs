using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePrune.Models.Families;
using MoePrune.Quantization.Fp8;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// What a tiny checkpoint (<see cref="TinyCheckpoint"/>) has beyond its family's defaults: group-limited routing
/// (<see cref="Groups"/> = <c>n_group</c>, <c>topk_group</c> half of it; DeepSeek-V2 then routes with
/// <c>group_limited_greedy</c>), MTP layers as DeepSeek-V3 ships them (<see cref="MtpLayers"/>), block-FP8 projection
/// weights with their <c>weight_scale_inv</c> and <c>quantization_config</c> (<see cref="Fp8"/>; blocks of
/// <see cref="Fp8Block"/>² instead of 128² so that tiny weights span several blocks, with partial edges), and the tokenizer
/// files of another model folder with the vocabulary sized to its tokenizer (<see cref="TokenizerDir"/>).
/// </summary>
public sealed record TinyVariant
{
    /// <summary>The FP8 block size of tiny checkpoints (rows and columns).</summary>
    public const int Fp8Block = 32;

    /// <summary><c>n_group</c> (1: no group stage).</summary>
    public int Groups { get; init; } = 1;
    /// <summary><c>num_nextn_predict_layers</c>.</summary>
    public int MtpLayers { get; init; }
    /// <summary>Store every attention and MLP projection weight as F8_E4M3 with float32 block scales.</summary>
    public bool Fp8 { get; init; }
    /// <summary>A model folder whose tokenizer files are copied (its <c>tokenizer.json</c> sizes the vocabulary).</summary>
    public string? TokenizerDir { get; init; }

    /// <summary>The weights DeepSeek-V3 stores in FP8: attention projections, routed, shared and dense MLP projections.</summary>
    private static readonly Regex Fp8Weight = new(@"\.(self_attn|mlp)\.(.+\.)?[a-z_]+_proj(_with_mqa)?\.weight$", RegexOptions.CultureInvariant);

    /// <summary>The vocabulary size the variant asks for (the tokenizer's), or null for the default.</summary>
    public int? VocabSize() => TokenizerDir is null ? null : Tokenization.HfTokenizer.Load(TokenizerDir).VocabSize;

    /// <summary>Sets the config keys of the variant on a tiny config of <paramref name="family"/>.</summary>
    public void ApplyTo(JsonObject config, ModelFamily family)
    {
        string type = family.ModelType;
        if (Groups < 1) throw new MoePruneException($"tiny {type}: n_group {Groups} must be at least 1");
        if (Groups > 1)
        {
            if (family.BindGroupRouting is null)
                throw new MoePruneException($"tiny {type}: the family has no group-limited routing (n_group {Groups})");
            config["n_group"] = Groups;
            config["topk_group"] = Math.Max(1, Groups / 2);
            if (config["topk_method"]?.GetValue<string>() == "greedy") config["topk_method"] = "group_limited_greedy";
        }
        if (MtpLayers < 0) throw new MoePruneException($"tiny {type}: {MtpLayers} MTP layers");
        if (MtpLayers > 0)
        {
            if (!family.SupportsMtp) throw new MoePruneException($"tiny {type}: the family has no MTP layers ({MoeConfigParser.MtpLayersKey})");
            config[MoeConfigParser.MtpLayersKey] = MtpLayers;
        }
        if (Fp8)
            config["quantization_config"] = new JsonObject
            {
                ["activation_scheme"] = "dynamic", ["fmt"] = "e4m3", ["quant_method"] = "fp8",
                ["weight_block_size"] = new JsonArray(Fp8Block, Fp8Block),
            };
        if (TokenizerDir is not null)
        {
            string file = Path.Combine(TokenizerDir, "config.json");
            var source = File.Exists(file) ? IO.JsonFile.ReadObject(file) : [];
            foreach (var key in new[] { "bos_token_id", "eos_token_id" })
                if (source.ContainsKey(key)) config[key] = source[key]?.DeepClone();
        }
    }

    /// <summary>
    /// Rounds the FP8 weights of <paramref name="model"/> to what block FP8 stores (fresh scales) and records their scales,
    /// so that saving writes F8_E4M3 codes and the model equals the written checkpoint.
    /// </summary>
    public void Quantize(MoeForCausalLM model)
    {
        if (!Fp8) return;
        var fp8 = new Fp8Weights(model.Config.Fp8!);
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!Fp8Weight.IsMatch(name) || p.dim() != 2) continue;
            using var scope = NewDisposeScope();
            var (codes, scale) = BlockFp8.Quantize(p, name, fp8.Config.ScaleFormat, Fp8Block, Fp8Block);   // (R, C) uint8, (R/b, C/b) fp32
            p.copy_(fp8.Dequantize(codes, scale, name));                                                  // (R, C) model dtype
            fp8.Add(name, scale);
        }
        model.Fp8?.Dispose();
        model.Fp8 = fp8;
    }
}
