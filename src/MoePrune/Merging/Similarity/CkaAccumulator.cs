using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Merging.Similarity;

/// <summary>
/// Centered kernel alignment between every pair of experts' outputs on the same tokens, summed over token
/// chunks (minibatch CKA): CKA_ij = Σ_c HSIC_c(K_i, K_j) / √(Σ_c HSIC_c(K_i, K_i) · Σ_c HSIC_c(K_j, K_j)),
/// with K_e the chunk's kernel matrix of expert e (<see cref="KernelMatrix"/>) and HSIC_c the chosen
/// estimator (<see cref="HsicEstimator"/>). With one chunk and the biased estimator this is the CKA of
/// Kornblith et al. (2019). The diagonal is 1; a pair with a zero (or negative) self-HSIC gets 0.
/// Kernels are fp32 (fp64 when the outputs are fp64); the E × E sums are fp64.
/// </summary>
public sealed class CkaAccumulator : IExpertOutputAccumulator
{
    private readonly double[] _hsic;          // E·E, summed over chunks
    private Tensor? _kernels;                 // (E, m, m) this chunk, owned by the pass's dispose scope
    private int _rows, _added;

    public CkaAccumulator(int numExperts, CkaOptions? options = null)
    {
        NumExperts = numExperts;
        Options = options ?? new CkaOptions();
        _hsic = new double[numExperts * numExperts];
    }

    public int NumExperts { get; }
    public CkaOptions Options { get; }
    public int Chunks { get; private set; }
    public long Rows { get; private set; }

    public void BeginChunk(int rows)
    {
        int min = Options.Estimator == HsicEstimator.Unbiased ? 4 : 2;
        if (rows < min)
            throw new MoePruneException($"cka: a chunk of {rows} token(s) is too small for the {Options.Estimator.ToString().ToLowerInvariant()} HSIC estimator (needs at least {min})");
        _rows = rows;
        _added = 0;
        _kernels = null;
    }

    public void Add(int expert, Tensor outputs)
    {
        if (expert != _added) throw new InvalidOperationException($"cka: expert {expert} added out of order (expected {_added})");
        var dtype = outputs.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        _kernels ??= empty(NumExperts, _rows, _rows, dtype, outputs.device);                                // (E, m, m)
        using (var k = KernelMatrix.Compute(outputs, Options.Kernel, _kernels.dtype))       // (m, m)
            _kernels[expert].copy_(k);
        _added++;
    }

    public void EndChunk()
    {
        if (_added != NumExperts || _kernels is null)
            throw new InvalidOperationException($"cka: chunk ended after {_added} of {NumExperts} experts");
        using var scope = NewDisposeScope();
        double m = _rows;
        var k = _kernels;                                                                     // (E, m, m)
        Tensor hsic;                                                                          // (E, E)
        if (Options.Estimator == HsicEstimator.Unbiased)
        {
            var kt = k * (Scalars.Of(1) - eye(_rows, dtype: k.dtype, device: k.device)).unsqueeze(0);                       // (E, m, m) zero diagonals
            var flat = kt.reshape(NumExperts, -1);                                            // (E, m²)
            var trace = flat.matmul(flat.t());                                                // (E, E) tr(K̃_i K̃_j)
            var sums = flat.sum(1);                                                           // (E) 1ᵀK̃1
            var rowSums = kt.sum(2);                                                          // (E, m) K̃1
            hsic = (trace + sums.unsqueeze(1) * sums.unsqueeze(0) / (Scalars.Of((m - 1) * (m - 2)))
                    - rowSums.matmul(rowSums.t()) * (Scalars.Of(2 / (m - 2)))) / (Scalars.Of(m * (m - 3)));          // (E, E)
        }
        else
        {
            var centered = k - k.mean([1], keepdim: true) - k.mean([2], keepdim: true)
                           + k.mean([1, 2], keepdim: true);                                   // (E, m, m) HKH
            var flat = centered.reshape(NumExperts, -1);                                      // (E, m²)
            hsic = flat.matmul(flat.t()) / (Scalars.Of((m - 1) * (m - 1)));                               // (E, E)
        }
        var values = hsic.to(ScalarType.Float64).contiguous().data<double>().ToArray();      // (E·E)
        for (int i = 0; i < _hsic.Length; i++) _hsic[i] += values[i];
        Chunks++;
        Rows += _rows;
        _kernels = null;
    }

    /// <summary>The summed HSIC values (E·E, row-major), before normalisation.</summary>
    public IReadOnlyList<double> Hsic => _hsic;

    public SimilarityMatrix Result()
    {
        if (Chunks == 0) throw new MoePruneException("cka: no tokens were seen");
        int n = NumExperts;
        var cka = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double a = _hsic[i * n + i], b = _hsic[j * n + j];
                cka[i * n + j] = i == j ? 1 : a > 0 && b > 0 ? _hsic[i * n + j] / Math.Sqrt(a * b) : 0;
            }
        return new SimilarityMatrix(SimilarityKinds.Name(SimilarityKind.Cka), n, cka);
    }
}
