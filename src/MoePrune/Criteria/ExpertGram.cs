using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Criteria;

/// <summary>
/// The (E, E) Gram matrix of E long vectors (an expert's flattened weights or accumulated gradient),
/// accumulated over column chunks so that only E × <see cref="Chunk"/> values are materialised at once.
/// Each chunk's product is fp32; the sum over chunks is fp64.
/// </summary>
internal static class ExpertGram
{
    public const long Chunk = 1 << 22;

    /// <param name="partLengths">Length of each part of a vector (e.g. gate, up, down).</param>
    /// <param name="slice">(expert, part, start, length) → that (length) piece of the vector, any float dtype.</param>
    /// <param name="chunk">Columns per chunk (tests use small values to exercise the accumulation).</param>
    public static Tensor Compute(int experts, IReadOnlyList<long> partLengths, Func<int, int, long, long, Tensor> slice, long chunk = Chunk)
    {
        var gram = torch.zeros(experts, experts, ScalarType.Float64);                       // (E, E) Σ over chunks
        for (int part = 0; part < partLengths.Count; part++)
        {
            for (long start = 0; start < partLengths[part]; start += chunk)
            {
                using var scope = torch.NewDisposeScope();
                long n = Math.Min(chunk, partLengths[part] - start);
                var block = torch.stack(Enumerable.Range(0, experts)
                    .Select(e => slice(e, part, start, n).to(ScalarType.Float32)).ToArray()); // (E, n) this chunk of every vector
                gram.add_(block.mm(block.t()).to(ScalarType.Float64));                      // (E, E) chunk's dot products
            }
        }
        return gram;
    }

    /// <summary>Σ_{q≠p} cos(x_p, x_q) from the Gram matrix; a zero vector has cosine 0 with everything.</summary>
    public static double[] SimilaritySums(Tensor gram)
    {
        using var scope = torch.NewDisposeScope();
        var norms = gram.diagonal().clamp_min(Scalars.Of(0)).sqrt();                                    // (E) ‖x_p‖
        var denom = norms.unsqueeze(1) * norms.unsqueeze(0);                                // (E, E) ‖x_p‖·‖x_q‖
        var cos = torch.where(denom > Scalars.Of(0), gram / denom, torch.zeros_like(gram));             // (E, E)
        return TensorData.Doubles(cos.sum(1) - cos.diagonal());                             // (E) row sum minus self
    }
}
