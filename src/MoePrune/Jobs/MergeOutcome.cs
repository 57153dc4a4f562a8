using System.Text.Json.Nodes;
using MoePrune.Merging;
using static TorchSharp.torch;

namespace MoePrune.Jobs;

/// <summary>
/// What a merge round computed: per merged layer the similarity, grouping (in the round model's CURRENT slot
/// indices) and merged experts (<see cref="LayerMergeResult"/>, whose tensors the round's plan points to and this
/// object owns), the routed-token counts and input rows it read, and the calibration pass that fed it.
/// Layers a groups map leaves out, or gives as singletons, are unchanged and not listed.
/// </summary>
public sealed class MergeOutcome(MergeSpec spec) : IDisposable
{
    public MergeSpec Spec { get; } = spec;
    /// <summary>Decoder-layer index → the layer's merge.</summary>
    public SortedDictionary<int, LayerMergeResult> Layers { get; } = [];
    /// <summary>Decoder-layer index → routed-token counts per current slot (when a pass ran).</summary>
    public SortedDictionary<int, double[]> RoutedCounts { get; } = [];
    /// <summary>Decoder-layer index → rows of the input sample the layer's similarity or learned merge read.</summary>
    public SortedDictionary<int, int> InputRows { get; } = [];
    /// <summary>The calibration data's description (null: no pass, or statistics given by the caller).</summary>
    public JsonObject? Calibration { get; init; }
    /// <summary>Tokens of the calibration pass (0 when none ran).</summary>
    public long CalibrationTokens { get; internal set; }
    /// <summary>Seconds of the calibration pass (layer by layer: the pass, layers read included, without the merging).</summary>
    public double CalibrationSeconds { get; internal set; }
    /// <summary>Seconds of similarity, grouping and merging over all layers.</summary>
    public double MergeSeconds { get; internal set; }
    /// <summary>The merged experts' score-correction bias entries (scalars) the round's plan holds, for routers that have the bias.</summary>
    internal List<Tensor> Biases { get; } = [];

    public void Dispose()
    {
        foreach (var layer in Layers.Values) layer.Dispose();
        Layers.Clear();
        foreach (var b in Biases) b.Dispose();
        Biases.Clear();
    }
}
