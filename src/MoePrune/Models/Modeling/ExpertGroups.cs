using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// The N·k (token, expert) assignments of a routing decision sorted by expert (stable, so tokens stay in
/// ascending order within an expert): expert e owns slots [Offsets[e], Offsets[e] + Counts[e]) of
/// <see cref="Rows"/> and <see cref="Gates"/>. Lets each expert run one matmul over all its tokens; the
/// expert outputs, concatenated in slot order, go back to (token, choice) order through <see cref="Inverse"/>.
/// </summary>
public sealed class ExpertGroups
{
    /// <summary>(N·k) token row of each slot, int64, grouped by expert.</summary>
    public required Tensor Rows { get; init; }
    /// <summary>(N·k) for each (token, choice) in row-major order of the decision, its slot in the grouped order.</summary>
    public required Tensor Inverse { get; init; }
    /// <summary>(N·k) gate weight of each slot, fp32.</summary>
    public required Tensor Gates { get; init; }
    public required long[] Counts { get; init; }
    public required long[] Offsets { get; init; }

    public static ExpertGroups Build(RoutingDecision decision, int numExperts)
    {
        using var scope = NewDisposeScope();
        long k = decision.Indices.shape[1];
        var flatExperts = decision.Indices.reshape(-1);                             // (N·k) int64
        var (_, order) = flatExperts.sort(0, false, true);                          // (N·k) stable by expert
        var rows = order.div(Scalars.Of(k), RoundingMode.floor);                               // (N·k) token of each slot
        var inverse = order.argsort();                                              // (N·k) slot of each assignment
        var gates = decision.Weights.reshape(-1).index_select(0, order);            // (N·k) fp32
        var counts = flatExperts.bincount(null, numExperts).data<long>().ToArray(); // (E) on the host
        var offsets = new long[numExperts];
        for (int e = 1; e < numExperts; e++) offsets[e] = offsets[e - 1] + counts[e - 1];
        return new ExpertGroups
        {
            Rows = rows.MoveToOuterDisposeScope(),
            Inverse = inverse.MoveToOuterDisposeScope(),
            Gates = gates.MoveToOuterDisposeScope(),
            Counts = counts,
            Offsets = offsets,
        };
    }

    /// <summary>(n_e) token rows of expert e.</summary>
    public Tensor RowsOf(int e) => Rows.narrow(0, Offsets[e], Counts[e]);
    /// <summary>(n_e) fp32 gates of expert e.</summary>
    public Tensor GatesOf(int e) => Gates.narrow(0, Offsets[e], Counts[e]);
}
