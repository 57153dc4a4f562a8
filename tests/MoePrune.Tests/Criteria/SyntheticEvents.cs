using MoePrune.Native;
using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Tests.Criteria;

/// <summary>Builds RoutingEvents directly from chosen routing and expert outputs (no model).</summary>
internal static class SyntheticEvents
{
    /// <param name="topK">(N)[k] chosen experts per token.</param>
    /// <param name="output">(token row, expert) → that expert's output row (H).</param>
    public static RoutingEvent Create(int layer, int experts, long[] tokens, int[][] topK, Func<int, int, float[]> output, int hidden)
    {
        TorchNative.EnsureLoaded();
        int n = tokens.Length, k = topK[0].Length;
        var weights = Enumerable.Range(0, n).SelectMany(_ => Enumerable.Repeat(1f / k, k)).ToArray();
        var rows = new Tensor[experts];
        var gates = new Tensor[experts];
        var outs = new Tensor[experts];
        for (int e = 0; e < experts; e++)
        {
            var mine = Enumerable.Range(0, n).Where(i => topK[i].Contains(e)).ToArray();
            rows[e] = torch.tensor(mine.Select(i => (long)i).ToArray(), ScalarType.Int64);     // (n_e)
            gates[e] = torch.full(mine.Length, 1f / k);                                        // (n_e)
            outs[e] = torch.tensor(mine.SelectMany(i => output(i, e)).ToArray(), [mine.Length, hidden]); // (n_e, H)
        }
        return new RoutingEvent
        {
            LayerIndex = layer, NumExperts = experts, TopK = k,
            RouterLogits = torch.zeros(n, experts),
            TopKIndices = torch.tensor(topK.SelectMany(t => t.Select(x => (long)x)).ToArray(), [n, k]),
            TopKWeights = torch.tensor(weights, [n, k]),
            TokenIds = torch.tensor(tokens),
            Hidden = torch.zeros(n, hidden),
            ExpertRows = rows, ExpertGates = gates, ExpertOutputs = outs,
        };
    }

    public static float[] Random(Random rng, int hidden, double scale = 1) =>
        Enumerable.Range(0, hidden).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
}
