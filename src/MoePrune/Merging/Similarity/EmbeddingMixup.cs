using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Merging.Similarity;

/// <summary>
/// The optional augmentation of the data-centric similarity ("randomly mixes input token embeddings"),
/// read as mixup of the MoE layer's own inputs: each extra row is λ·x_a + (1 − λ)·x_b for two distinct
/// sampled rows a, b and λ ~ Uniform(0, 1), all drawn from a seeded <see cref="Random"/>. Mixing the
/// layer's inputs, rather than the token embeddings at the model's input, needs no second forward pass
/// through the preceding layers (docs/MERGING.md §1.2).
/// </summary>
public static class EmbeddingMixup
{
    /// <summary>(N, H) → (N + extraRows, H): the inputs followed by the mixed rows.</summary>
    public static Tensor Augment(Tensor inputs, int extraRows, int seed)
    {
        long n = inputs.shape[0];
        if (extraRows < 0) throw new ArgumentOutOfRangeException(nameof(extraRows));
        if (extraRows > 0 && n < 2) throw new MoePruneException($"embedding mixup needs at least 2 input rows, got {n}");
        using var scope = NewDisposeScope();
        if (extraRows == 0) return inputs.clone().MoveToOuterDisposeScope();
        var rng = new Random(seed);
        var a = new long[extraRows];
        var b = new long[extraRows];
        var lambda = new float[extraRows];
        for (int i = 0; i < extraRows; i++)
        {
            a[i] = rng.NextInt64(n);
            b[i] = (a[i] + 1 + rng.NextInt64(n - 1)) % n;                                     // ≠ a
            lambda[i] = (float)rng.NextDouble();
        }
        var l = tensor(lambda, device: inputs.device).to(inputs.dtype).unsqueeze(1);                                 // (extra, 1)
        var mixed = l * inputs.index_select(0, tensor(a, device: inputs.device)) + (Scalars.Of(1) - l) * inputs.index_select(0, tensor(b, device: inputs.device)); // (extra, H)
        return cat([inputs, mixed], 0).MoveToOuterDisposeScope();                             // (N + extra, H)
    }
}
