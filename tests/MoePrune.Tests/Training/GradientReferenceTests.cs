using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Native;
using MoePrune.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Training;

/// <summary>
/// llm.c-style reference for the trainer: logits, losses, every parameter's gradient and the parameters after
/// ten AdamW steps of a tiny fp32 model of each family, against fixtures/gradients/make_gradient_reference.py
/// (an eager PyTorch transcription of the transformers forward, torch.optim.AdamW; see the script for the
/// hyper-parameters, mirrored in <see cref="Options"/>).
/// Tolerances (fp32): the two sides sum in different orders (SDPA and grouped expert matmuls against explicit
/// matmuls and HF's per-expert loop), so values agree to a few ulps of their magnitude, ~1e-7 relative; the
/// bounds leave two orders of magnitude for accumulation over two layers and ten steps: logits and losses
/// 2e-5 absolute, gradients 1e-4 of the tensor's largest gradient, parameters after ten steps 5e-5 absolute
/// (AdamW moves each element by at most about lr = 1e-2 per step, normalised by √v̂, so gradient rounding
/// moves a parameter by a small fraction of lr).
/// </summary>
public sealed class GradientReferenceTests(ITestOutputHelper output)
{
    const double Aux = 0.1, Z = 0.01;

    /// <summary>Ten steps at a constant learning rate (min ratio 1, no warmup), no clipping; AdamW as in the script.</summary>
    static TrainerOptions Options(long tokens, int batch) => new()
    {
        Tokens = tokens, WarmupTokens = 0, BatchSize = batch,
        Optimizer = new() { LearningRate = 1e-2, MinLrRatio = 1, Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8, WeightDecay = 0.1, ClipNorm = 0 },
        Loss = new LossSpec { AuxLossCoef = Aux, ZLossCoef = Z },
    };

    /// <summary>Step s reads batch s of the stored (S, B, T) ids.</summary>
    sealed class StoredBatches(Tensor ids) : ITrainingData
    {
        public int SequenceLength => (int)ids.shape[2];
        public TrainingBatch Read(DataCursor at, int batchSize) => new(ids[at.Step].clone(), at.Position + batchSize); // (B, T) int64
    }

    [Theory]
    [InlineData("mixtral")]
    [InlineData("qwen2_moe")]
    [InlineData("qwen3_moe")]
    [InlineData("olmoe")]
    public void LossLogitsGradientsAndTenAdamWStepsMatchPyTorch(string family)
    {
        TorchNative.EnsureLoaded();
        string dir = Path.Combine(AppContext.BaseDirectory, "fixtures", "gradients", family);
        using var file = SafetensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        Tensor E(string name) => file.Read(name);
        using var model = ModelLoader.Load(dir);
        Assert.Equal(ScalarType.Float32, model.Dtype);
        using var scope = NewDisposeScope();
        model.train();
        var batch = new TrainingBatch(E("input_ids"), 0);                                   // (B, T) int64

        var ce = TrainingLoss.Compute(model, batch, new LossSpec());
        double logitsDiff = (model.Logits(batch.InputIds).detach() - E("logits")).abs().max().item<float>();
        double ceDiff = Math.Abs(ce.Loss.item<float>() - E("loss_ce").item<float>());
        ce.Loss.backward();
        double ceGrad = MaxGradientDiff(model, "grads.", E, out string ceWorst);
        foreach (var p in model.parameters()) p.grad = null;

        var total = TrainingLoss.Compute(model, batch, new LossSpec { AuxLossCoef = Aux, ZLossCoef = Z });
        double totalDiff = Math.Abs(total.Loss.item<float>() - E("loss_total").item<float>());
        total.Loss.backward();
        double totalGrad = MaxGradientDiff(model, "grads_total.", E, out string totalWorst);
        foreach (var p in model.parameters()) p.grad = null;

        var trainIds = E("train_ids");                                                      // (S, B, T)
        int steps = (int)trainIds.shape[0], b = (int)trainIds.shape[1];
        var initial = TinyTraining.Snapshot(model);
        var trainer = new Trainer(Options((long)steps * b * trainIds.shape[2], b));
        var losses = new List<double>();
        trainer.StepCompleted += r => losses.Add(r.Loss);
        var result = trainer.Train(model, new StoredBatches(trainIds));
        var expectedLosses = E("train_losses").data<float>().ToArray();
        double lossesDiff = losses.Zip(expectedLosses).Max(p => Math.Abs(p.First - p.Second));
        double paramsDiff = 0;
        string paramsWorst = "";
        foreach (var (name, p) in model.named_parameters())
        {
            double d = (p.detach() - E("after." + name)).abs().max().item<float>();
            if (d >= paramsDiff) (paramsDiff, paramsWorst) = (d, name);
        }

        double moved = model.named_parameters().Max(p => (p.parameter.detach() - initial[p.name]).abs().max().item<float>());
        output.WriteLine($"{family}: max |logits diff| {logitsDiff:E2}; loss_ce diff {ceDiff:E2}; loss_total diff {totalDiff:E2}");
        output.WriteLine($"  max gradient diff / tensor's max |grad|: CE {ceGrad:E2} ({ceWorst}), total {totalGrad:E2} ({totalWorst})");
        output.WriteLine($"  10 AdamW steps: max loss diff {lossesDiff:E2}; max parameter diff {paramsDiff:E2} ({paramsWorst}); parameters moved up to {moved:E2}");
        Assert.Equal(steps, result.State.Step);
        Assert.True(logitsDiff < 2e-5, $"logits differ by {logitsDiff}");
        Assert.True(ceDiff < 2e-5 && totalDiff < 2e-5, $"losses differ by {ceDiff}, {totalDiff}");
        Assert.True(ceGrad < 1e-4, $"CE gradient of {ceWorst} differs by {ceGrad} of its scale");
        Assert.True(totalGrad < 1e-4, $"total gradient of {totalWorst} differs by {totalGrad} of its scale");
        Assert.True(lossesDiff < 2e-5, $"training losses differ by {lossesDiff}");
        Assert.True(paramsDiff < 5e-5, $"parameter {paramsWorst} differs by {paramsDiff} after {steps} steps");
        Assert.True(moved > 50 * paramsDiff, $"the parameters moved by {moved} only");
    }

    /// <summary>max over parameters of max |grad − expected| / max |expected| (the tensor's own scale, at least 1e-6).</summary>
    static double MaxGradientDiff(MoeForCausalLM model, string prefix, Func<string, Tensor> expected, out string worst)
    {
        double max = 0;
        worst = "";
        foreach (var (name, p) in model.named_parameters())
        {
            var want = expected(prefix + name);
            Assert.True(p.grad is not null, $"{name} has no gradient");
            double scale = Math.Max(1e-6, want.abs().max().item<float>());
            double d = (p.grad! - want).abs().max().item<float>() / scale;
            if (d >= max) (max, worst) = (d, name);
        }
        return max;
    }
}
