using MoePrune.Observation;
using static TorchSharp.torch;

namespace MoePrune.Tests.Criteria;

/// <summary>
/// Independent reference implementations: every formula of docs/CRITERIA.md computed directly from
/// explicitly stored tokens, outputs, weights and gradients with plain loops in double.
/// </summary>
internal static class NaiveCriteria
{
    const double Floor = 1e-20;

    public static double[] Euf(LayerRecord r, int e) =>
        Enumerable.Range(0, e).Select(x => (double)r.Tokens.Count(t => t.TopK.Contains(x)) / r.Tokens.Count).ToArray();

    public static double[] Evtc(LayerRecord r, int e, int vocab) =>
        Enumerable.Range(0, e).Select(x => (double)r.Tokens.Where(t => t.TopK.Contains(x)).Select(t => t.TokenId).Distinct().Count() / vocab).ToArray();

    public static double[,] CoSelection(LayerRecord r, int e)
    {
        var m = new double[e, e];
        foreach (var t in r.Tokens)
            foreach (var p in t.TopK)
                foreach (var q in t.TopK)
                    if (p != q) m[p, q]++;
        return m;
    }

    public static double[,] SharedTypes(LayerRecord r, int e)
    {
        var sets = Enumerable.Range(0, e).Select(x => r.Tokens.Where(t => t.TopK.Contains(x)).Select(t => t.TokenId).ToHashSet()).ToArray();
        var m = new double[e, e];
        for (int p = 0; p < e; p++)
            for (int q = 0; q < e; q++)
                m[p, q] = sets[p].Intersect(sets[q]).Count();
        return m;
    }

    /// <summary>The pair procedure written out plainly: best pair, less-used member (tie → higher index) dropped.</summary>
    public static double[] PairRanks(double[,] m, long[] usage, bool max)
    {
        int n = usage.Length;
        var alive = Enumerable.Range(0, n).ToList();
        var rank = new double[n];
        for (int step = 0; step < n - 1; step++)
        {
            int bp = -1, bq = -1;
            foreach (var p in alive)
                foreach (var q in alive)
                    if (p < q && (bp < 0 || (max ? m[p, q] > m[bp, bq] : m[p, q] < m[bp, bq]))) { bp = p; bq = q; }
            int drop = usage[bp] == usage[bq] ? Math.Max(bp, bq) : usage[bp] < usage[bq] ? bp : bq;
            rank[drop] = step;
            alive.Remove(drop);
        }
        rank[alive[0]] = n - 1;
        return rank;
    }

    public static long[] Usage(LayerRecord r, int e) => Enumerable.Range(0, e).Select(x => (long)r.Rows[x].Count).ToArray();

    public static double[] Ean(LayerRecord r) => r.Rows.Select(rows => rows.Sum(x => Norm(x.Output))).ToArray();

    public static double[] Reap(LayerRecord r) => r.Rows.Select(rows =>
        rows.Count == 0 ? 0.0 : rows.Average(x => x.Gate / x.GateSum * Norm(x.Output))).ToArray();

    public static double[] Eae(LayerRecord r, int h) => r.Rows.Select(rows =>
    {
        double total = 0;
        for (int j = 0; j < h; j++)
        {
            var col = rows.Select(x => x.Output[j]).ToArray();
            total += Math.Log(Math.Max(Std(col), Floor));
        }
        return total;
    }).ToArray();

    public static double[] Eao(LayerRecord r) => r.Rows.Select(rows => (double)rows.Sum(x =>
    {
        double mu = x.Output.Average(), sigma = Std(x.Output);
        return x.Output.Count(v => Math.Abs(v - mu) > 3 * sigma);
    })).ToArray();

    public static double[] Eas(LayerRecord r)
    {
        int n = r.Rows.Length;
        var score = new double[n];
        for (int p = 0; p < n; p++)
            for (int q = 0; q < n; q++)
            {
                if (p == q || r.Rows[p].Count == 0 || r.Rows[q].Count == 0) continue;
                double s = 0;
                foreach (var a in r.Rows[p])
                    foreach (var b in r.Rows[q])
                        s += Cos(a.Output, b.Output);
                score[p] += s / (r.Rows[p].Count * r.Rows[q].Count);
            }
        return score;
    }

    public static double[] FlatWeights(IMoeLayerView v, int e) =>
        new[] { v.GateProj(e), v.UpProj(e), v.DownProj(e) }.SelectMany(t => t.to(ScalarType.Float64).contiguous().data<double>().ToArray()).ToArray();

    public static double[] SimilaritySums(double[][] flat) => Enumerable.Range(0, flat.Length)
        .Select(p => Enumerable.Range(0, flat.Length).Where(q => q != p).Sum(q => Cos(flat[p], flat[q]))).ToArray();

    public static double[] Rwn(IMoeLayerView v)
    {
        var w = v.RouterWeight.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        int h = v.HiddenSize;
        return Enumerable.Range(0, v.NumExperts).Select(e => Norm(w.Skip(e * h).Take(h).ToArray())).ToArray();
    }

    /// <summary>Stable rank ‖W‖_F² / σ₁², σ₁² from power iteration on WᵀW.</summary>
    public static double StableRank(Tensor weight)
    {
        int rows = (int)weight.shape[0], cols = (int)weight.shape[1];
        var w = weight.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        double fro = w.Sum(x => x * x);
        var vec = Enumerable.Range(0, cols).Select(i => 1.0 + 0.01 * i).ToArray();
        double lambda = 0;
        for (int it = 0; it < 2000; it++)
        {
            var u = new double[rows];
            for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) u[i] += w[i * cols + j] * vec[j];
            var z = new double[cols];
            for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) z[j] += w[i * cols + j] * u[i];
            lambda = Norm(z);
            if (lambda == 0) return 0;
            vec = z.Select(x => x / lambda).ToArray();
        }
        return fro / lambda;
    }

    /// <summary>EGE reference: for each hidden unit j the std of gate[:, j], up[:, j], down[j, :].</summary>
    public static double Ege(double[] g, int inter, int hidden)
    {
        double total = 0;
        for (int j = 0; j < hidden; j++)
        {
            var vals = new List<double>();
            for (int i = 0; i < inter; i++) vals.Add(g[i * hidden + j]);
            for (int i = 0; i < inter; i++) vals.Add(g[inter * hidden + i * hidden + j]);
            for (int i = 0; i < inter; i++) vals.Add(g[2 * inter * hidden + j * inter + i]);
            total += Math.Log(Math.Max(Std(vals.ToArray()), Floor));
        }
        return total;
    }

    public static double Ego(double[] g)
    {
        double mu = g.Average(), sigma = Std(g);
        return g.Count(v => Math.Abs(v - mu) > 3 * sigma);
    }

    public static double Norm(double[] x) => Math.Sqrt(x.Sum(v => v * v));

    public static double Std(double[] x)
    {
        if (x.Length == 0) return 0;
        double mu = x.Average();
        return Math.Sqrt(x.Sum(v => (v - mu) * (v - mu)) / x.Length);
    }

    public static double Cos(double[] a, double[] b)
    {
        double na = Norm(a), nb = Norm(b);
        return na == 0 || nb == 0 ? 0 : a.Zip(b, (x, y) => x * y).Sum() / (na * nb);
    }
}
