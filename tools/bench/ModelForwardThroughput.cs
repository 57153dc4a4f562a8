#:project ../../src/MoePrune/MoePrune.csproj
// One-off benchmark (not a test): forward tokens/s of random-weight MoE models in fp32 and bf16, inference
// mode, batch 8 × 256 tokens. Shapes: the tiny default of `make-tiny` and a medium one (hidden 512,
// 4 layers, 8 experts of width 1024, top-2). Run once:
//     dotnet run tools/bench/ModelForwardThroughput.cs -c Release [-- THREADS]
// On a machine shared with other busy processes, OpenMP oversubscription can make elementwise ops very
// slow; passing THREADS=1 gives steadier numbers there.
using System.Diagnostics;
using MoePrune.Models;
using MoePrune.Native;
using TorchSharp;
using static TorchSharp.torch;

TorchNative.EnsureLoaded();
if (args.Length > 0) set_num_threads(int.Parse(args[0]));
Console.WriteLine($"torch threads: {get_num_threads()}");
foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
{
    // The raw matmul speed of this machine, for scale: (2048, 512) · (512, 1024).
    using var a = randn(2048, 512).to(dtype);
    using var w = randn(1024, 512).to(dtype);
    nn.functional.linear(a, w).Dispose();
    var clock = Stopwatch.StartNew();
    for (int i = 0; i < 20; i++) nn.functional.linear(a, w).Dispose();
    double s = clock.Elapsed.TotalSeconds / 20;
    Console.WriteLine($"matmul {dtype,-9} {2.0 * 2048 * 512 * 1024 / s / 1e9,8:F1} GFLOP/s");
}
foreach (var (label, hidden, layers, expertSize) in new[] { ("tiny (make-tiny default)", 64, 2, 96), ("medium", 512, 4, 1024) })
{
    foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
    {
        var json = TinyCheckpoint.Config("mixtral", hidden: hidden, layers: layers, experts: 8, topK: 2, expertSize: expertSize, vocab: 1024);
        using var model = TinyCheckpoint.Random(json, seed: 0, dtype: dtype);
        using var ids = randint(0, 1024, [8, 256]);                                 // (B, T)
        using var inference = inference_mode();
        Forward(model, ids);                                                        // warm-up
        var clock = Stopwatch.StartNew();
        const int Repeats = 3;
        for (int i = 0; i < Repeats; i++) Forward(model, ids);
        double seconds = clock.Elapsed.TotalSeconds / Repeats;
        Console.WriteLine($"{label,-26} {dtype,-9} {ids.numel() / seconds,10:F0} tokens/s ({seconds * 1000:F0} ms per 8×256 batch)");
    }
}

static void Forward(MoeForCausalLM model, Tensor ids)
{
    using var scope = NewDisposeScope();
    model.Logits(ids);
}
