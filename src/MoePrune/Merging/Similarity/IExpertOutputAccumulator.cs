using static TorchSharp.torch;

namespace MoePrune.Merging.Similarity;

/// <summary>
/// Receives every expert's output on one chunk of the same tokens (<see cref="ExpertOutputPass"/>):
/// BeginChunk, then Add for experts 0..E−1 in order, then EndChunk. All calls of one chunk run inside one
/// dispose scope that ends after EndChunk, so tensors kept between Add and EndChunk need no disposing;
/// nothing may be kept past EndChunk except managed values.
/// </summary>
public interface IExpertOutputAccumulator
{
    void BeginChunk(int rows);
    /// <param name="expert">0..E−1</param>
    /// <param name="outputs">(m, H) the expert's outputs on the chunk's m tokens, any floating dtype.</param>
    void Add(int expert, Tensor outputs);
    void EndChunk();
}
