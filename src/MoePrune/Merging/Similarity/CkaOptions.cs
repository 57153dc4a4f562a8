namespace MoePrune.Merging.Similarity;

/// <summary>The kernel on one expert's outputs (docs/MERGING.md §1.1).</summary>
public enum CkaKernel
{
    /// <summary>K = Z Zᵀ.</summary>
    Linear,
    /// <summary>K_ab = exp(−‖z_a − z_b‖² / (2σ²)), σ² = the median squared distance within the chunk.</summary>
    Rbf,
}

/// <summary>Which HSIC estimate is summed over the token chunks.</summary>
public enum HsicEstimator
{
    /// <summary>Song et al. (2012) unbiased HSIC₁, as in minibatch CKA (Nguyen et al., 2021): chunk size does not bias it.</summary>
    Unbiased,
    /// <summary>tr(K H L H)/(m−1)² (Gretton et al.), the textbook CKA of Kornblith et al. when one chunk holds all tokens.</summary>
    Biased,
}

/// <summary>
/// Options of the data-centric CKA. Memory per chunk: E kernels of m × m values (E·m²·4 bytes in fp32:
/// 134 MB at E = 128, m = 512), plus one expert's (m, I) intermediate.
/// </summary>
public sealed record CkaOptions
{
    public const int DefaultChunkRows = 512;

    public CkaKernel Kernel { get; init; } = CkaKernel.Linear;
    public HsicEstimator Estimator { get; init; } = HsicEstimator.Unbiased;
    /// <summary>The most tokens per chunk, m. The unbiased estimator needs at least 4 tokens in every chunk.</summary>
    public int ChunkRows { get; init; } = DefaultChunkRows;
}
