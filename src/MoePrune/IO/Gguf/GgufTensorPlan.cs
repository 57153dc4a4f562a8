using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.IO.Gguf;

/// <summary>Where one Hugging Face tensor (or a slice of a fused one) goes: a GGUF tensor, an element offset, and a rewrite.</summary>
public sealed record GgufPlacement(string GgufName, long ElementOffset, Func<Tensor, Tensor> Transform);

/// <summary>
/// The GGUF tensors of a model (names, shapes, types) and, for every Hugging Face tensor name the model
/// has (per-expert and transformers-v5 fused expert layouts), where its values land. Names follow
/// llama.cpp's <c>llama-arch.cpp</c>: <c>token_embd</c>, <c>blk.N.attn_q</c>, …, the routed experts
/// stacked as <c>blk.N.ffn_{gate,up,down}_exps</c> of shape [E, I, H] / [E, H, I] (expert-major, so expert
/// e fills elements [e·I·H, (e+1)·I·H)), and Qwen2-MoE's shared expert as <c>blk.N.ffn_*_shexp</c> with its
/// (1, H) gate written as a vector.
/// </summary>
public sealed class GgufTensorPlan
{
    private readonly Dictionary<string, List<GgufPlacement>> _routes = new(StringComparer.Ordinal);
    private readonly List<GgufTensorInfo> _tensors = [];
    private readonly MoeConfig _config;
    private readonly GgufArchitecture _arch;
    private readonly GgmlType _matrixType;

    public GgufTensorPlan(MoeConfig config, GgufArchitecture arch, GgufFloatType type)
    {
        (_config, _arch, _matrixType) = (config, arch, GgufTypes.ToGgml(type));
        int h = config.HiddenSize, v = config.VocabSize, nh = config.NumAttentionHeads, kv = config.NumKeyValueHeads;
        int hd = config.HeadDim, fileKv = arch.FileKvHeads(config);
        Add("token_embd.weight", [v, h], "model.embed_tokens.weight");
        if (!config.TieWordEmbeddings) Add("output.weight", [v, h], "lm_head.weight");
        else if (!arch.OutputOptional) Add("output.weight", [v, h], "model.embed_tokens.weight");   // loader needs it: a copy
        Add("output_norm.weight", [h], "model.norm.weight");

        Func<Tensor, Tensor> q = arch.PermuteQk ? x => PermuteRope(x, nh) : Same;
        Func<Tensor, Tensor> k = arch.PermuteQk ? x => PermuteRope(x, kv) : fileKv != kv ? x => RepeatHeads(x, kv, fileKv / kv) : Same;
        Func<Tensor, Tensor> vRewrite = fileKv != kv ? x => RepeatHeads(x, kv, fileKv / kv) : Same;
        for (int l = 0; l < config.NumHiddenLayers; l++)
        {
            string hf = $"model.layers.{l}.", blk = $"blk.{l}.";
            Add(blk + "attn_norm.weight", [h], hf + "input_layernorm.weight");
            Add(blk + "attn_q.weight", [nh * hd, h], hf + "self_attn.q_proj.weight", q);
            Add(blk + "attn_k.weight", [fileKv * hd, h], hf + "self_attn.k_proj.weight", k);
            Add(blk + "attn_v.weight", [fileKv * hd, h], hf + "self_attn.v_proj.weight", vRewrite);
            Add(blk + "attn_output.weight", [h, nh * hd], hf + "self_attn.o_proj.weight");
            if (config.QkvBias)
            {
                Add(blk + "attn_q.bias", [nh * hd], hf + "self_attn.q_proj.bias", q);
                Add(blk + "attn_k.bias", [fileKv * hd], hf + "self_attn.k_proj.bias", k);
                Add(blk + "attn_v.bias", [fileKv * hd], hf + "self_attn.v_proj.bias", vRewrite);
            }
            if (config.OutputBias) Add(blk + "attn_output.bias", [h], hf + "self_attn.o_proj.bias");
            if (config.Family.QkNorm == Models.Families.QkNormPlacement.PerHead)
            {
                Add(blk + "attn_q_norm.weight", [hd], hf + "self_attn.q_norm.weight");
                Add(blk + "attn_k_norm.weight", [hd], hf + "self_attn.k_norm.weight");
            }
            else if (config.Family.QkNorm == Models.Families.QkNormPlacement.FullWidth)
            {
                Add(blk + "attn_q_norm.weight", [nh * hd], hf + "self_attn.q_norm.weight");
                Add(blk + "attn_k_norm.weight", [fileKv * hd], hf + "self_attn.k_norm.weight", vRewrite);
            }
            Add(blk + "ffn_norm.weight", [h], hf + "post_attention_layernorm.weight");
            AddMoe(l);
        }
    }

    /// <summary>The GGUF tensors in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors => _tensors;

    /// <summary>Where <paramref name="hfName"/> goes; null for a name the model does not have.</summary>
    public IReadOnlyList<GgufPlacement>? Route(string hfName) => _routes.GetValueOrDefault(hfName);

    private void AddMoe(int l)
    {
        int h = _config.HiddenSize, e = _config.ExpertsInLayer(l), i = _config.ExpertIntermediateSize;
        string moe = $"model.layers.{l}.{_config.Family.MoeModuleName}.", blk = $"blk.{l}.";
        var (gate, up, down) = _config.Family.ExpertProjNames;
        Add(blk + "ffn_gate_inp.weight", [e, h], moe + "gate.weight");
        AddTensor(blk + "ffn_gate_exps.weight", [e, i, h]);
        AddTensor(blk + "ffn_up_exps.weight", [e, i, h]);
        AddTensor(blk + "ffn_down_exps.weight", [e, h, i]);
        long slice = (long)i * h;
        for (int x = 0; x < e; x++)
        {
            Route(moe + $"experts.{x}.{gate}.weight", blk + "ffn_gate_exps.weight", x * slice, Same);
            Route(moe + $"experts.{x}.{up}.weight", blk + "ffn_up_exps.weight", x * slice, Same);
            Route(moe + $"experts.{x}.{down}.weight", blk + "ffn_down_exps.weight", x * slice, Same);
        }
        // transformers v5 fused layout: gate_up_proj [E, 2I, H] (gate rows first), down_proj [E, H, I]
        string fused = $"model.layers.{l}.mlp.experts.";
        Route(fused + "gate_up_proj", blk + "ffn_gate_exps.weight", 0, x => x.narrow(1, 0, i));
        Route(fused + "gate_up_proj", blk + "ffn_up_exps.weight", 0, x => x.narrow(1, i, i));
        Route(fused + "down_proj", blk + "ffn_down_exps.weight", 0, Same);
        if (_config.Family.MoeModuleName != "mlp") Route($"model.layers.{l}.mlp.gate.weight", blk + "ffn_gate_inp.weight", 0, Same);
        if (!_arch.SharedExpert) return;
        int s = _config.SharedExpertIntermediateSize;
        Add(blk + "ffn_gate_inp_shexp.weight", [h], moe + "shared_expert_gate.weight", x => x.reshape(-1));
        Add(blk + "ffn_gate_shexp.weight", [s, h], moe + "shared_expert.gate_proj.weight");
        Add(blk + "ffn_up_shexp.weight", [s, h], moe + "shared_expert.up_proj.weight");
        Add(blk + "ffn_down_shexp.weight", [h, s], moe + "shared_expert.down_proj.weight");
    }

    private void Add(string ggufName, long[] shape, string hfName, Func<Tensor, Tensor>? transform = null)
    {
        AddTensor(ggufName, shape);
        Route(hfName, ggufName, 0, transform ?? Same);
    }

    private void AddTensor(string ggufName, long[] shape) => _tensors.Add(new GgufTensorInfo(ggufName, shape, TypeOf(ggufName, shape)));

    private void Route(string hfName, string ggufName, long offset, Func<Tensor, Tensor> transform)
    {
        if (!_routes.TryGetValue(hfName, out var list)) _routes[hfName] = list = [];
        list.Add(new GgufPlacement(ggufName, offset, transform));
    }

    /// <summary>Vectors, norms, biases and routers stay F32 (as llama.cpp's converter keeps them); matrices take the export type.</summary>
    private GgmlType TypeOf(string name, long[] shape) =>
        shape.Length <= 1 || name.EndsWith("_norm.weight", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal)
        || name.Contains(".ffn_gate_inp", StringComparison.Ordinal)
            ? GgmlType.F32 : _matrixType;

    private static Tensor Same(Tensor x) => x.alias();

    /// <summary>
    /// HF rotate_half → llama's pairwise RoPE: within each head, row j of the first half and row j of the
    /// second half become rows 2j and 2j+1: (heads·hd, …) → (heads, 2, hd/2, …) → swap → (heads, hd/2, 2, …).
    /// </summary>
    public static Tensor PermuteRope(Tensor w, int heads)
    {
        long rows = w.shape[0];
        long[] rest = w.shape.Skip(1).ToArray();
        return w.reshape([heads, 2, rows / heads / 2, .. rest]).transpose(1, 2).reshape(w.shape);  // (rows, …)
    }

    /// <summary>
    /// OLMoE GQA → MHA: each of the <paramref name="kvHeads"/> heads' rows repeated <paramref name="rep"/> times in
    /// place, so Q head j reads K/V head j / rep as HF's <c>repeat_kv</c> does: (kv·hd, …) → (kv·rep·hd, …).
    /// The same repetition of <c>k_norm</c>'s weight keeps OLMoE's RMSNorm over the whole K projection exact:
    /// every value appears rep times, so the mean of squares is unchanged.
    /// </summary>
    public static Tensor RepeatHeads(Tensor w, int kvHeads, int rep)
    {
        long hd = w.shape[0] / kvHeads;
        long[] rest = w.shape.Skip(1).ToArray();
        return w.reshape([kvHeads, 1, hd, .. rest]).expand([kvHeads, rep, hd, .. rest])
                .reshape([kvHeads * rep * hd, .. rest]);                                       // (kv·rep·hd, …)
    }
}
