using MoePrune.Merging;
using MoePrune.Merging.Similarity;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static MoePrune.Tests.Merging.MergingFixtures;

namespace MoePrune.Tests.Merging;

public class WeightAndRouterSimilarityTests(ITestOutputHelper output)
{
    private static MoeLayerWeights LayerWithACopy(Random rng, ScalarType dtype = ScalarType.Float64)
    {
        var layer = RandomLayer(rng, 4, 5, 3, dtype);
        var copy = layer.Experts[1];
        return layer with { Experts = [.. layer.Experts.Take(3), new ExpertWeights(copy.GateProj.clone(), copy.UpProj.clone(), copy.DownProj.clone())] };
    }

    [Theory]
    [InlineData(7)]
    [InlineData(1 << 22)]
    public void FlattenedWeightsGiveMinusTheMeanSquaredError(int sliceValues)
    {
        var layer = LayerWithACopy(new Random(11));
        var flat = layer.Experts.Select(w => Values(w.GateProj).Concat(Values(w.UpProj)).Concat(Values(w.DownProj)).ToArray()).ToArray();
        var s = WeightSimilarity.FlattenedWeights(layer, sliceValues);
        double max = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                max = Math.Max(max, Math.Abs(s[i, j] + flat[i].Zip(flat[j], (a, b) => (a - b) * (a - b)).Average()));
        output.WriteLine($"slice {sliceValues}: max |S − (−MSE)| = {max:E2}; S(1, copy of 1) = {s[1, 3]:E2}, S(0, 1) = {s[0, 1]:F4}");
        Assert.True(max < 1e-12);
        Assert.True(Math.Abs(s[1, 3]) < 1e-12);
    }

    [Fact]
    public void PaperSurrogateIsDownTimesGateHadamardUp()
    {
        var layer = LayerWithACopy(new Random(12));
        var maps = layer.Experts.Select(w =>
        {
            double[,] g = Matrix(w.GateProj), u = Matrix(w.UpProj), d = Matrix(w.DownProj);
            var m = new double[25];
            for (int h = 0; h < 5; h++)
                for (int k = 0; k < 5; k++)
                    for (int i = 0; i < 3; i++) m[h * 5 + k] += d[h, i] * g[i, k] * u[i, k];
            return m;
        }).ToArray();
        var s = WeightSimilarity.Surrogate(layer, SurrogateForm.DownGateUp, sliceValues: 9);
        double max = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                max = Math.Max(max, Math.Abs(s[i, j] + maps[i].Zip(maps[j], (a, b) => (a - b) * (a - b)).Average()));
        output.WriteLine($"max |S − (−MSE of W_down(W_gate ⊙ W_up))| = {max:E2}");
        Assert.True(max < 1e-12);
    }

    [Fact]
    public void MeanInputSurrogateIsTheExpertsJacobianThere()
    {
        var rng = new Random(13);
        var layer = RandomLayer(rng, 3, 4, 6, ScalarType.Float64);
        var xbar = Doubles(rng, 4);
        using var mean = tensor(xbar);
        double maxJ = 0;
        var jacobians = new List<double[]>();
        foreach (var w in layer.Experts)
        {
            double[,] g = Matrix(w.GateProj), u = Matrix(w.UpProj), d = Matrix(w.DownProj);
            var fd = new double[16];                                                      // central differences, fp64
            for (int k = 0; k < 4; k++)
            {
                double eps = 1e-6;
                var plus = (double[])xbar.Clone(); plus[k] += eps;
                var minus = (double[])xbar.Clone(); minus[k] -= eps;
                var yp = ExpertForward(g, u, d, plus);
                var ym = ExpertForward(g, u, d, minus);
                for (int h = 0; h < 4; h++) fd[h * 4 + k] = (yp[h] - ym[h]) / (2 * eps);
            }
            using var rows = WeightSimilarity.SurrogateRows(w, SurrogateForm.MeanInputJacobian, mean, 0, 4);   // (H, H)
            maxJ = Math.Max(maxJ, MaxAbsDiff(Values(rows), fd));
            jacobians.Add(fd);
        }
        var s = WeightSimilarity.Surrogate(layer, SurrogateForm.MeanInputJacobian, mean);
        double maxS = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                maxS = Math.Max(maxS, Math.Abs(s[i, j] + jacobians[i].Zip(jacobians[j], (a, b) => (a - b) * (a - b)).Average()));
        output.WriteLine($"max |Ŵ − finite-difference Jacobian| = {maxJ:E2}; max |S − (−MSE of Jacobians)| = {maxS:E2}");
        Assert.True(maxJ < 1e-7);
        Assert.True(maxS < 1e-7);
    }

    [Fact]
    public void RouterRowAndLogitCosinesMatchNaiveSums()
    {
        var rng = new Random(14);
        using var router = Random(rng, [5, 6], 1, ScalarType.Float64);
        using var x = Random(rng, [23, 6], 1, ScalarType.Float64);
        double[,] w = Matrix(router), xs = Matrix(x);
        double Cos(Func<int, double> a, Func<int, double> b, int n)
        {
            double dot = 0, na = 0, nb = 0;
            for (int t = 0; t < n; t++) { dot += a(t) * b(t); na += a(t) * a(t); nb += b(t) * b(t); }
            return dot / Math.Sqrt(na * nb);
        }
        double Logit(int token, int e) => Enumerable.Range(0, 6).Sum(h => xs[token, h] * w[e, h]);
        var rows = RouterSimilarity.RowCosine(router);
        var logits = RouterSimilarity.LogitCosine(x, router, chunkRows: 4);
        double maxRow = 0, maxLogit = 0;
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
            {
                maxRow = Math.Max(maxRow, Math.Abs(rows[i, j] - Cos(h => w[i, h], h => w[j, h], 6)));
                maxLogit = Math.Max(maxLogit, Math.Abs(logits[i, j] - Cos(t => Logit(t, i), t => Logit(t, j), 23)));
            }
        output.WriteLine($"max |row cosine − naive| = {maxRow:E2}; max |logit cosine − naive| = {maxLogit:E2}");
        Assert.True(maxRow < 1e-12);
        Assert.True(maxLogit < 1e-12);
    }

    [Fact]
    public void EmbeddingMixupAppendsConvexCombinationsOfTwoInputRows()
    {
        var rng = new Random(15);
        using var x = Random(rng, [4, 3], 1, ScalarType.Float64);
        using var mixed = EmbeddingMixup.Augment(x, 6, seed: 3);                                 // (10, 3)
        using var again = EmbeddingMixup.Augment(x, 6, seed: 3);
        Assert.Equal(new long[] { 10, 3 }, mixed.shape);
        Assert.Equal(Values(x), Values(mixed.narrow(0, 0, 4)));
        Assert.Equal(Values(mixed), Values(again));
        double[,] xs = Matrix(x), ms = Matrix(mixed);
        double worst = 0;
        for (int r = 4; r < 10; r++)
        {
            double best = double.PositiveInfinity;                                               // best fit λ x_a + (1 − λ) x_b
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                {
                    if (a == b) continue;
                    double num = 0, den = 0;
                    for (int h = 0; h < 3; h++) { double d = xs[a, h] - xs[b, h]; num += (ms[r, h] - xs[b, h]) * d; den += d * d; }
                    double lambda = num / den, res = 0;
                    for (int h = 0; h < 3; h++) res = Math.Max(res, Math.Abs(lambda * xs[a, h] + (1 - lambda) * xs[b, h] - ms[r, h]));
                    if (lambda >= 0 && lambda <= 1) best = Math.Min(best, res);
                }
            worst = Math.Max(worst, best);
        }
        output.WriteLine($"worst residual of a mixed row against its best segment between two inputs: {worst:E2}");
        Assert.True(worst < 1e-12);
    }
}
