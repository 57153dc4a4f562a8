using MoePrune.Models;
using MoePrune.Tests.Models;
using MoePrune.Training;
using Xunit;
using Xunit.Abstractions;
using static MoePrune.Tests.Training.TinyTraining;

namespace MoePrune.Tests.Training;

/// <summary>Roles read from the module tree against an independent classification of the Hugging Face names.</summary>
public sealed class ParameterRoleTests(ITestOutputHelper output)
{
    /// <summary>The fp32 fixture of each family (tied embeddings, dense layers, biases and QK-norms among them).</summary>
    public static TheoryData<string> Fp32Cases => new() { "mixtral_fp32", "qwen2_moe_dense_tied_sharded", "qwen3_moe_rope_parameters_fused", "olmoe_clip_fp32" };

    /// <summary>The roles of an HF parameter name, written from the transformers naming rules (no MoePrune code).</summary>
    static ParameterRole Expected(string name, bool tied)
    {
        string[] parts = name.Split('.');
        bool moe = name.Contains(".block_sparse_moe.") || (name.Contains(".mlp.") && (name.Contains(".mlp.gate.") || name.Contains(".experts.") || name.Contains(".shared_expert")));
        if (name == "model.embed_tokens.weight") return tied ? ParameterRole.Embeddings | ParameterRole.LmHead : ParameterRole.Embeddings;
        if (name == "lm_head.weight") return ParameterRole.LmHead;
        if (name == "model.norm.weight" || parts[^2] is "input_layernorm" or "post_attention_layernorm" or "q_norm" or "k_norm") return ParameterRole.Norms;
        if (name.Contains(".self_attn.")) return ParameterRole.Attention;
        if (moe && parts[^2] == "gate") return ParameterRole.Routers;
        if (moe && name.Contains(".experts.")) return ParameterRole.Experts;
        if (moe && name.Contains(".shared_expert")) return ParameterRole.SharedExperts;
        if (name.Contains(".mlp.")) return ParameterRole.DenseMlp;
        throw new InvalidOperationException($"unexpected parameter {name}");
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void EveryParameterGetsTheRolesItsHuggingFaceNameImplies(string fixture)
    {
        using var model = ModelLoader.Load(ModelFixtures.Dir(fixture));
        var roles = ParameterRoles.Of(model);
        Assert.Equal(model.named_parameters().Select(p => p.name), roles.Select(r => r.Name));
        foreach (var r in roles)
            Assert.True(Expected(r.Name, model.Config.TieWordEmbeddings) == r.Roles, $"{r.Name}: {r.Roles}, expected {Expected(r.Name, model.Config.TieWordEmbeddings)}");
        var counts = roles.GroupBy(r => r.Roles).Select(g => $"{g.Key} {g.Count()}");
        output.WriteLine($"{fixture}: {string.Join(", ", counts)}");
        // Every role of the family is present (dense layers only where the config has them).
        var present = roles.Aggregate(ParameterRole.None, (a, r) => a | r.Roles);
        Assert.Equal(ParameterRole.Routers | ParameterRole.Experts | ParameterRole.Attention | ParameterRole.Norms | ParameterRole.Embeddings | ParameterRole.LmHead,
                     present & ~(ParameterRole.SharedExperts | ParameterRole.DenseMlp));
        Assert.Equal(model.Config.Family.HasSharedExpert, (present & ParameterRole.SharedExperts) != 0);
    }

    public static TheoryData<string> AllCases => new(ModelFixtures.Cases);

    [Fact]
    public void SelectionsParseAndDecayFollowsTheRoles()
    {
        Assert.Equal(ParameterRole.All, ParameterRoles.Parse("all"));
        Assert.Equal(ParameterRole.Routers | ParameterRole.Norms, ParameterRoles.Parse("routers, norms"));
        Assert.Equal("routers,norms", ParameterSelection.Parse("norms,routers").ToString());
        Assert.Equal("all", ParameterSelection.All.ToString());
        var bad = Assert.Throws<MoePruneException>(() => ParameterRoles.Parse("routers,heads"));
        output.WriteLine(bad.Message);
        Assert.Contains("\"heads\"", bad.Message);
        Assert.DoesNotContain('\n', bad.Message);

        using var model = ModelLoader.Load(ModelFixtures.Dir("qwen2_moe_dense_tied_sharded"));
        var selected = ParameterSelection.All.Select(model);
        Assert.All(selected, p => Assert.Equal(p.Parameter.dim() >= 2 && !p.Name.Contains("norm") && p.Name != "model.embed_tokens.weight", p.Decay));
        var lmHead = ParameterSelection.Parse("lm_head").Select(model);
        Assert.Equal(["model.embed_tokens.weight"], lmHead.Select(p => p.Name));   // tied: the embedding is the output projection
        Assert.Throws<MoePruneException>(() => ParameterSelection.Parse("shared_experts").Select(ModelLoader.Load(ModelFixtures.Dir("mixtral_fp32"))));
    }

    [Theory]
    [MemberData(nameof(Fp32Cases))]
    public void TrainingRoutersOnlyLeavesEveryOtherTensorBitIdentical(string fixture)
    {
        using var model = ModelLoader.Load(ModelFixtures.Dir(fixture));
        var before = Snapshot(model);
        var rng = new Random(5);
        var data = new PackedDataset(Enumerable.Range(0, 8 * 40).Select(_ => rng.Next(3, model.Config.VocabSize)).ToArray(), 8, seed: 1);
        var options = new TrainerOptions
        {
            Tokens = 3L * 4 * 8, BatchSize = 4, Optimizer = new() { LearningRate = 1e-2, WeightDecay = 0.1 }, Train = ParameterSelection.Parse("routers"),
            Loss = new LossSpec { AuxLossCoef = 0.02, ZLossCoef = 0.001 },
        };
        var result = new Trainer(options).Train(model, data);
        var changed = Changed(model, before);
        var routers = ParameterRoles.Of(model).Where(p => p.Roles == ParameterRole.Routers).Select(p => p.Name).ToHashSet();
        output.WriteLine($"{fixture}: losses {string.Join(", ", result.Losses.Select(l => l.ToString("F4")))}; changed {changed.Count} of {before.Count}: {string.Join(", ", changed)}");
        Assert.Equal(routers.Order(), changed.Order());
        Assert.NotEmpty(routers);
    }
}
