using MoePrune.Native;
using MoePrune.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using AdamW = MoePrune.Training.AdamW;

namespace MoePrune.Tests.Training;

public sealed class ScheduleAndOptimizerTests(ITestOutputHelper output)
{
    [Fact]
    public void CosineScheduleMatchesHandComputedValues()
    {
        // peak 1, warmup 4, 13 steps, min 0.1: the cosine spans steps 4..12 (8 intervals).
        var s = new CosineSchedule(1.0, 4, 13, 0.1);
        var expected = new (int Step, double Lr)[]
        {
            (0, 0.25), (1, 0.5), (3, 1.0), (4, 1.0),
            (6, 0.8681980515339464),   // 0.1 + 0.9 · ½(1 + cos(π/4))
            (8, 0.55),                 // 0.1 + 0.9 · ½
            (12, 0.1),
        };
        foreach (var (step, lr) in expected)
        {
            output.WriteLine($"step {step}: {s.At(step)} expected {lr} (diff {Math.Abs(s.At(step) - lr):E2})");
            Assert.Equal(lr, s.At(step), 12);
        }
    }

    [Fact]
    public void AdamWTwoStepsMatchHandComputedUpdate()
    {
        TorchNative.EnsureLoaded();
        var p = new Parameter(tensor(new float[] { 1.0f, -2.0f }));                      // (2)
        using var adam = new AdamW([new TrainableParameter("w", p, Decay: true)], 0.9, 0.999, 1e-8, 0.01);
        // Hand computation (lr 0.1, wd 0.01): step 1 p ← 0.999·p, m̂ = g, v̂ = g², p ← p − 0.1·g/(|g|+ε);
        // step 2 with m = 0.9·m1 + 0.1·g2 etc. Values from the closed form, written out.
        var grads = new[] { new float[] { 0.5f, -0.1f }, new float[] { 0.2f, 0.3f } };
        var expected = new[] { new[] { 0.899, -1.89800001 }, new[] { 0.80824348, -1.94552099 } };
        for (int t = 0; t < 2; t++)
        {
            p.grad = tensor(grads[t]);
            adam.Step(0.1);
            var got = p.data<float>().ToArray();
            double diff = Math.Max(Math.Abs(got[0] - expected[t][0]), Math.Abs(got[1] - expected[t][1]));
            output.WriteLine($"step {t + 1}: [{got[0]}, {got[1]}] max diff {diff:E2}");
            Assert.True(diff < 1e-6, $"step {t + 1}: max diff {diff}");
        }
    }

    [Fact]
    public void AdamWSkipsDecayWhereNotAskedAndKeepsFp32MasterForBf16()
    {
        TorchNative.EnsureLoaded();
        var p = new Parameter(tensor(new float[] { 1.0f, -2.0f }).to(ScalarType.BFloat16));
        using var adam = new AdamW([new TrainableParameter("n", p, Decay: false)], 0.9, 0.999, 1e-8, 0.5);
        p.grad = tensor(new float[] { 0.5f, -0.1f }).to(ScalarType.BFloat16);
        adam.Step(1e-3);                                                                // no decay: p − 1e-3·sign(g)
        var master = adam.StateTensors().Single(kv => kv.Key == "adam.master.n").Value.data<float>().ToArray();
        output.WriteLine($"master [{master[0]}, {master[1]}]");
        Assert.Equal(0.999, master[0], 5);
        Assert.Equal(-1.999, master[1], 5);
        Assert.Equal(ScalarType.BFloat16, p.dtype);
    }

    [Fact]
    public void GlobalNormClippingScalesAllGradients()
    {
        TorchNative.EnsureLoaded();
        var a = new Parameter(zeros(2)) { grad = tensor(new float[] { 3, 0 }) };
        var b = new Parameter(zeros(1)) { grad = tensor(new float[] { 4 }) };
        double norm = GradientClipping.ClipGlobalNorm([a, b], 1.0);                      // ‖(3, 0, 4)‖ = 5
        Assert.Equal(5.0, norm, 6);
        Assert.Equal(0.6, a.grad!.data<float>()[0], 5);
        Assert.Equal(0.8, b.grad!.data<float>()[0], 5);
    }
}
