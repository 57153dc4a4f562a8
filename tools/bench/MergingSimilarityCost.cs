#:project ../../src/MoePrune/MoePrune.csproj
// One-off benchmark (not a test): the per-layer time of each expert-similarity measure and of the
// grouping, on random fp32 weights and inputs. The data-centric measures run every expert on every
// sampled token (E times the routed work). Shapes: the default model's layer (E 8, H 192, I 256) and a
// wider one (E 64, H 512, I 256); N sampled tokens. Run once:
//     dotnet run tools/bench/MergingSimilarityCost.cs -c Release [-- THREADS]
using System.Diagnostics;
using MoePrune.Merging;
using MoePrune.Merging.Partition;
using MoePrune.Merging.Similarity;
using MoePrune.Native;
using static TorchSharp.torch;

TorchNative.EnsureLoaded();
if (args.Length > 0) set_num_threads(int.Parse(args[0]));
Console.WriteLine($"torch threads: {get_num_threads()}");
foreach (var (label, e, h, i, n) in new[] { ("default layer", 8, 192, 256, 2048), ("wide layer", 64, 512, 256, 1024) })
{
    using var scope = NewDisposeScope();
    var layer = new MoeLayerWeights(randn(e, h),
        Enumerable.Range(0, e).Select(_ => new ExpertWeights(randn(i, h) * 0.05, randn(i, h) * 0.05, randn(h, i) * 0.05)).ToArray());
    var x = randn(n, h);
    var input = new LayerMergeInput { LayerIndex = 0, Weights = layer, TopK = 2, Inputs = x };
    double forwardFlops = 2.0 * n * e * 3 * h * i;
    Console.WriteLine($"{label}: E {e}, H {h}, I {i}, N {n} tokens; every expert on every token = {forwardFlops / 1e9:F1} GFLOP");
    foreach (var (name, options) in new (string, LayerMergeOptions)[]
    {
        ("cka linear (m 512)", new() { Similarity = SimilarityKind.Cka }),
        ("cka rbf (m 512)", new() { Similarity = SimilarityKind.Cka, Cka = new CkaOptions { Kernel = CkaKernel.Rbf } }),
        ("output-mean", new() { Similarity = SimilarityKind.OutputMean }),
        ("weights", new() { Similarity = SimilarityKind.Weights }),
        ("surrogate down(gate⊙up)", new() { Similarity = SimilarityKind.Surrogate }),
        ("surrogate mean-input Jacobian", new() { Similarity = SimilarityKind.Surrogate, Surrogate = SurrogateForm.MeanInputJacobian }),
        ("router-logits", new() { Similarity = SimilarityKind.RouterLogits }),
    })
    {
        var clock = Stopwatch.StartNew();
        var s = LayerMerger.Similarity(input, options);
        double sim = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var part = Partitioner.Solve(s, e * 3 / 4);
        Console.WriteLine($"  {name,-30} similarity {sim,7:F2} s   grouping ({part.Method}, r = {e * 3 / 4}) {clock.Elapsed.TotalSeconds,6:F3} s");
    }
}
