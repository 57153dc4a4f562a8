using MoePrune.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>Right-padded batches, loss masking and dispose-scope hygiene.</summary>
public class PaddingAndMemoryTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("mixtral_window_fused_sharded")]
    [InlineData("qwen2_moe_dense_tied_sharded")]
    [InlineData("qwen3_moe_rope_parameters_fused")]
    [InlineData("olmoe_clip_fp32")]
    [InlineData("deepseek_v2_lite_yarn_fp32")]
    [InlineData("deepseek_v3_yarn_groups_fp32")]
    [InlineData("glm4_moe_qknorm_groups_fp32")]
    public void PaddedBatchReproducesEachSequenceAlone(string name)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = ModelLoader.Load(ModelFixtures.Dir(name), ScalarType.Float32);
        long[][] seqs = [[5, 9, 13, 17, 21, 25, 29], [7, 8, 9], [40, 41, 42, 43, 44]];
        var (ids, mask) = Pad(seqs);
        var batched = model.forward(new CausalLMInput(ids, mask, OutputRouterLogits: true));
        double worst = 0;
        long row = 0;
        for (int i = 0; i < seqs.Length; i++)
        {
            var alone = model.forward(new CausalLMInput(tensor(seqs[i]).unsqueeze(0), OutputRouterLogits: true));
            worst = Math.Max(worst, ModelFixtures.MaxAbsDiff(batched.Logits[i].narrow(0, 0, seqs[i].Length), alone.Logits[0]));
            for (int l = 0; l < alone.RouterLogits!.Count; l++)
                worst = Math.Max(worst, ModelFixtures.MaxAbsDiff(batched.RouterLogits![l].narrow(0, row, seqs[i].Length), alone.RouterLogits[l]));
            row += seqs[i].Length;
        }
        Assert.Equal(row, batched.RouterLogits![0].shape[0]);                       // padding is not routed
        output.WriteLine($"{name}: max |padded − alone| = {worst:E2}");
        Assert.True(worst <= 1e-5, $"padded batch differs from single sequences by {worst:E2}");
    }

    [Fact]
    public void LossIgnoresPaddedPositions()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = ModelLoader.Load(ModelFixtures.Dir("olmoe_clip_fp32"), ScalarType.Float32);
        long[][] seqs = [[5, 9, 13, 17, 21], [7, 8, 9]];
        var (ids, mask) = Pad(seqs);
        var padded = CausalLMLoss.Compute(model.Logits(ids, mask), ids, mask);
        double sumAlone = 0;
        long countAlone = 0;
        foreach (var s in seqs)
        {
            var one = tensor(s).unsqueeze(0);
            var nll = CausalLMLoss.Compute(model.Logits(one), one);
            sumAlone += nll.Sum.item<float>();
            countAlone += nll.Count;
        }
        output.WriteLine($"padded sum {padded.Sum.item<float>():F6} over {padded.Count}, alone {sumAlone:F6} over {countAlone}");
        Assert.Equal(6, padded.Count);
        Assert.Equal(countAlone, padded.Count);
        Assert.True(Math.Abs(padded.Sum.item<float>() - sumAlone) < 1e-4);

        // The loss by hand for one target: −log softmax(logits[0, 0])[ids[0, 1]].
        var logits = model.Logits(tensor(seqs[0]).unsqueeze(0));
        double byHand = -logits[0, 0].to(ScalarType.Float64).log_softmax(-1)[seqs[0][1]].item<double>();
        var first = CausalLMLoss.Compute(logits.narrow(1, 0, 2), tensor(seqs[0]).unsqueeze(0).narrow(1, 0, 2));
        Assert.True(Math.Abs(first.Sum.item<float>() - byHand) < 1e-4);
    }

    [Theory]
    [InlineData("qwen2_moe_dense_tied_sharded")]
    [InlineData("deepseek_v3_fp8_mtp")]
    [InlineData("glm4_moe_qknorm_groups_fp32")]
    [InlineData("deepseek_v2_group_limited_bias_bf16")]
    public void RepeatedForwardsDoNotGrowLiveTensors(string name)
    {
        using var model = ModelLoader.Load(ModelFixtures.Dir(name), ScalarType.Float32);
        var (ids, mask) = Pad([[5, 9, 13, 17], [7, 8]]);
        long[] live = new long[4];
        for (int i = 0; i < live.Length; i++)
        {
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var output = model.forward(new CausalLMInput(ids, mask, OutputRouterLogits: true));
                CausalLMLoss.Compute(output.Logits, ids, mask);
            }
            live[i] = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        output.WriteLine($"{name}: live tensors after each forward: {string.Join(", ", live)}");
        Assert.Equal(live[1], live[^1]);
        ids.Dispose();
        mask.Dispose();
    }

    /// <summary>FP8 load, surgery with a re-quantized custom expert, FP8 export and disposal leave no live tensor behind.</summary>
    [Fact]
    public void Fp8LoadSurgeryAndExportLeaveNoLiveTensors()
    {
        using var tmp = new MoePrune.Tests.IO.TempDir();
        long[] live = new long[3];
        for (int i = 0; i < live.Length; i++)
        {
            using (var model = ModelLoader.Load(ModelFixtures.Dir("deepseek_v3_fp8_mtp")))
            {
                var block = model.Model.Layers[1].Moe!;
                using var row = block.Router.Weight[3];                                 // (H)
                var plan = MoePrune.Pruning.ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>>());
                plan.Replace(1, 2, block.GateProj(3), block.UpProj(3), block.DownProj(3), row, derivedFrom: 2);
                using (var applied = MoePrune.Pruning.ExpertSurgery.Apply(model, plan)) { }
                MoePrune.Pruning.ExpertSurgery.Export(model, plan, tmp[$"out{i}"]);
            }
            live[i] = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        output.WriteLine($"live tensors after each load + apply + export: {string.Join(", ", live)}");
        Assert.Equal(live[1], live[^1]);
    }

    internal static (Tensor Ids, Tensor Mask) Pad(long[][] seqs)
    {
        int t = seqs.Max(s => s.Length);
        var ids = new long[seqs.Length, t];
        var mask = new long[seqs.Length, t];
        for (int i = 0; i < seqs.Length; i++)
            for (int j = 0; j < seqs[i].Length; j++) { ids[i, j] = seqs[i][j]; mask[i, j] = 1; }
        return (tensor(ids), tensor(mask));
    }
}
