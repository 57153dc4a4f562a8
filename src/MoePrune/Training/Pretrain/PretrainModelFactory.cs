using System.Text.Json.Nodes;
using MoePrune.Models;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Training.Pretrain;

/// <summary>
/// The config.json and freshly initialised weights of a model to pretrain. MoE: Mixtral with
/// <c>Experts</c> experts of width <c>ExpertSize</c>, top-<c>TopK</c>. Dense (<c>--dense</c>): the same
/// Mixtral architecture with one expert of width TopK·ExpertSize and top-1, so every token uses the same
/// number of parameters as in the MoE (the single router weight is constant 1 after the softmax).
/// </summary>
public static class PretrainModelFactory
{
    public static JsonObject Config(PretrainOptions o, int? bosId, int? eosId)
    {
        int experts = o.Dense ? 1 : o.Experts, topK = o.Dense ? 1 : o.TopK, width = o.Dense ? o.TopK * o.ExpertSize : o.ExpertSize;
        var json = TinyCheckpoint.Config("mixtral", o.HiddenSize, o.Layers, experts, topK, width, o.VocabSize);
        json["num_attention_heads"] = o.Heads;
        json["num_key_value_heads"] = o.KeyValueHeads;
        json["max_position_embeddings"] = Math.Max(1024, o.SequenceLength);
        json["rope_theta"] = 10000.0;
        json["initializer_range"] = o.InitStd;
        json["router_aux_loss_coef"] = o.AuxLossCoef;
        json["output_router_logits"] = false;
        json["bos_token_id"] = bosId is { } b ? b : null;
        json["eos_token_id"] = eosId is { } e ? e : null;
        return json;
    }

    /// <summary>
    /// A model with HF's <c>_init_weights</c> for these families: every Linear and Embedding ~ N(0, std²),
    /// RMSNorm weights 1. Seeded; parameters in <paramref name="dtype"/>.
    /// </summary>
    public static MoeForCausalLM Create(JsonObject config, double std, long seed, ScalarType dtype)
    {
        var model = new MoeForCausalLM(MoeConfig.Parse(config, "pretrain config"), dtype);
        using var noGrad = no_grad();
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        foreach (var p in ParameterRoles.Of(model))
        {
            using var scope = NewDisposeScope();
            var value = p.Roles == ParameterRole.Norms
                ? ones(p.Parameter.shape)                                                // p.shape fp32
                : Scalars.Of(std) * randn(p.Parameter.shape, generator: generator);                  // p.shape fp32
            p.Parameter.copy_(value);
        }
        return model;
    }
}
