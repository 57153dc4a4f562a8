using MoePrune.Merging;
using MoePrune.Merging.Similarity;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static MoePrune.Tests.Merging.MergingFixtures;

namespace MoePrune.Tests.Merging;

public class CkaTests(ITestOutputHelper output)
{
    /// <summary>Feeds given per-expert output sets (N, H) through the real chunked pass (the "expert" picks its rows).</summary>
    private static SimilarityMatrix CkaOf(IReadOnlyList<Tensor> outputs, CkaOptions options)
    {
        using var scope = NewDisposeScope();
        int n = (int)outputs[0].shape[0];
        var rowIds = arange(n, ScalarType.Float64).unsqueeze(1);                                    // (N, 1) token ids
        var acc = new CkaAccumulator(outputs.Count, options);
        ExpertOutputPass.Run(rowIds, outputs.Count, (e, x) => outputs[e].index_select(0, x.select(1, 0).to(ScalarType.Int64)), [acc], options.ChunkRows);
        return acc.Result();
    }

    public static TheoryData<CkaKernel, HsicEstimator> Variants => new()
    {
        { CkaKernel.Linear, HsicEstimator.Unbiased }, { CkaKernel.Linear, HsicEstimator.Biased },
        { CkaKernel.Rbf, HsicEstimator.Unbiased }, { CkaKernel.Rbf, HsicEstimator.Biased },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void CkaOfASetWithItselfIsOne(CkaKernel kernel, HsicEstimator estimator)
    {
        var rng = new Random(1);
        using var z = Random(rng, [40, 6], 1, ScalarType.Float64);
        using var w = Random(rng, [40, 6], 1, ScalarType.Float64);
        var cka = CkaOf([z, z, w], new CkaOptions { Kernel = kernel, Estimator = estimator, ChunkRows = 16 });
        double diff = Math.Abs(cka[0, 1] - 1);
        output.WriteLine($"{kernel}/{estimator}: |CKA(Z, Z) − 1| = {diff:E2}, CKA(Z, W) = {cka[0, 2]:F4}");
        Assert.True(diff < 1e-12);
        Assert.Equal(1.0, cka[2, 2]);
        Assert.True(cka[0, 2] < 0.9);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void CkaIsInvariantToOrthogonalTransformsAndIsotropicScaling(CkaKernel kernel, HsicEstimator estimator)
    {
        var rng = new Random(2);
        using var z = Random(rng, [30, 5], 1, ScalarType.Float64);
        using var w = Random(rng, [30, 5], 1, ScalarType.Float64);
        using var q = tensor(OrthogonalMatrix(rng, 5), [5, 5]);                                      // (5, 5)
        using var zq = z.matmul(q) * 3.7;                                                             // (30, 5)
        var cka = CkaOf([z, zq, w], new CkaOptions { Kernel = kernel, Estimator = estimator, ChunkRows = 30 });
        double self = Math.Abs(cka[0, 1] - 1), cross = Math.Abs(cka[0, 2] - cka[1, 2]);
        output.WriteLine($"{kernel}/{estimator}: |CKA(Z, 3.7·ZQ) − 1| = {self:E2}, |CKA(Z, W) − CKA(3.7·ZQ, W)| = {cross:E2} (CKA(Z, W) = {cka[0, 2]:F4})");
        Assert.True(self < 1e-10);
        Assert.True(cross < 1e-10);
    }

    [Theory]
    [InlineData(CkaKernel.Linear, HsicEstimator.Unbiased, 5)]
    [InlineData(CkaKernel.Linear, HsicEstimator.Unbiased, 9)]
    [InlineData(CkaKernel.Linear, HsicEstimator.Biased, 5)]
    [InlineData(CkaKernel.Linear, HsicEstimator.Biased, 9)]
    [InlineData(CkaKernel.Rbf, HsicEstimator.Unbiased, 5)]
    [InlineData(CkaKernel.Rbf, HsicEstimator.Biased, 9)]
    public void CkaEqualsAFloat64ComputationOnATinyCase(CkaKernel kernel, HsicEstimator estimator, int chunkRows)
    {
        var rng = new Random(3);
        var outputs = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 9).Select(_ => Doubles(rng, 3)).ToArray()).ToArray(); // [E][N][H]
        (int, int)[] chunks = chunkRows == 9 ? [(0, 9)] : [(0, 5), (5, 4)];
        var expected = CkaReference.Cka(outputs, chunks, kernel == CkaKernel.Rbf, estimator == HsicEstimator.Unbiased);
        foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            var tensors = outputs.Select(o => tensor(o.SelectMany(r => r).ToArray(), [9, 3]).to(dtype)).ToArray();
            var cka = CkaOf(tensors, new CkaOptions { Kernel = kernel, Estimator = estimator, ChunkRows = chunkRows });
            foreach (var t in tensors) t.Dispose();
            double max = 0;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) max = Math.Max(max, Math.Abs(cka[i, j] - expected[i, j]));
            output.WriteLine($"{kernel}/{estimator}/chunk {chunkRows}/{dtype}: max |CKA − fp64 reference| = {max:E2}; CKA(0,1) = {expected[0, 1]:F6}");
            Assert.True(max < (dtype == ScalarType.Float64 ? 1e-10 : 1e-4));
        }
    }

    [Fact]
    public void DataCentricPassRunsEveryExpertOnEveryToken()
    {
        var rng = new Random(4);
        var layer = RandomLayer(rng, 4, 5, 7, ScalarType.Float64);
        using var x = Random(rng, [24, 5], 1, ScalarType.Float64);
        var xs = Enumerable.Range(0, 24).Select(i => Values(x[i])).ToArray();
        var outputs = layer.Experts.Select(w => xs.Select(row => ExpertForward(Matrix(w.GateProj), Matrix(w.UpProj), Matrix(w.DownProj), row)).ToArray()).ToArray();
        var expected = CkaReference.Cka(outputs, [(0, 12), (12, 12)], rbf: false, unbiased: true);
        var input = new LayerMergeInput { LayerIndex = 0, Weights = layer, TopK = 2, Inputs = x };
        var cka = LayerMerger.Similarity(input, new LayerMergeOptions { Similarity = SimilarityKind.Cka, Cka = new CkaOptions { ChunkRows = 12 } });
        double max = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) max = Math.Max(max, Math.Abs(cka[i, j] - expected[i, j]));
        // HC-SMoE's representation: cosine of the mean outputs
        var means = outputs.Select(o => Enumerable.Range(0, 5).Select(h => o.Average(r => r[h])).ToArray()).ToArray();
        var mean = LayerMerger.Similarity(input, new LayerMergeOptions { Similarity = SimilarityKind.OutputMean, Cka = new CkaOptions { ChunkRows = 7 } });
        double maxMean = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
            {
                double cos = means[i].Zip(means[j], (a, b) => a * b).Sum() / Math.Sqrt(means[i].Sum(a => a * a) * means[j].Sum(a => a * a));
                maxMean = Math.Max(maxMean, Math.Abs(mean[i, j] - cos));
            }
        output.WriteLine($"max |CKA − naive-expert fp64 reference| = {max:E2}; max |output-mean cosine − reference| = {maxMean:E2}");
        Assert.True(max < 1e-10);
        Assert.True(maxMean < 1e-10);
    }

    [Fact]
    public void UnbiasedCkaRefusesChunksOfFewerThanFourTokens()
    {
        var rng = new Random(5);
        using var z = Random(rng, [3, 4]);
        var e = Assert.Throws<MoePruneException>(() => CkaOf([z, z], new CkaOptions()));
        output.WriteLine(e.Message);
        Assert.Contains("at least 4", e.Message);
    }

    [Fact]
    public void TokenChunksAreBalanced()
    {
        Assert.Equal([(0, 5), (5, 4)], TokenChunks.Balanced(9, 5));
        Assert.Equal([(0, 4), (4, 4), (8, 3)], TokenChunks.Balanced(11, 4));
        Assert.Equal([(0, 7)], TokenChunks.Balanced(7, 512));
        Assert.Empty(TokenChunks.Balanced(0, 4));
    }

    /// <summary>A random orthogonal matrix by Gram–Schmidt (row-major).</summary>
    private static double[] OrthogonalMatrix(Random rng, int n)
    {
        var rows = new List<double[]>();
        while (rows.Count < n)
        {
            var v = Doubles(rng, n);
            foreach (var r in rows)
            {
                double dot = v.Zip(r, (a, b) => a * b).Sum();
                for (int i = 0; i < n; i++) v[i] -= dot * r[i];
            }
            double norm = Math.Sqrt(v.Sum(a => a * a));
            rows.Add(v.Select(a => a / norm).ToArray());
        }
        return rows.SelectMany(r => r).ToArray();
    }
}
