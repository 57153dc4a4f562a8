using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Tests.Criteria;

/// <summary>One routed token as the naive reference sees it.</summary>
internal sealed record RoutedToken(long TokenId, int[] TopK, double[] Weights);

/// <summary>One (token, expert) routing with the expert's output row.</summary>
internal sealed record ExpertRow(long TokenId, double Gate, double GateSum, double[] Output);

/// <summary>Everything one layer routed, stored explicitly (no reduction) for the naive reference.</summary>
internal sealed class LayerRecord(int experts)
{
    public List<RoutedToken> Tokens { get; } = [];
    public List<ExpertRow>[] Rows { get; } = Enumerable.Range(0, experts).Select(_ => new List<ExpertRow>()).ToArray();
    /// <summary>Per expert, the summed gradient [gate | up | down] in double.</summary>
    public double[][]? Grad { get; set; }
}

/// <summary>Records every event into managed arrays; forwards events to further observers.</summary>
internal sealed class RecordingObserver(params IMoeObserver[] others) : IMoeObserver
{
    /// <summary>Observers that receive every event after it is recorded.</summary>
    public List<IMoeObserver> Others { get; } = [.. others];

    public Dictionary<int, LayerRecord> Layers { get; } = [];
    public string? Source { get; set; }
    /// <summary>Per source, its own records (routing and outputs only).</summary>
    public Dictionary<string, Dictionary<int, LayerRecord>> Sources { get; } = [];

    public ObserverNeeds Needs => ObserverNeeds.ExpertOutputs;

    public void OnRouting(RoutingEvent e)
    {
        Record(Layers, e);
        if (Source is { } s)
        {
            if (!Sources.TryGetValue(s, out var d)) Sources[s] = d = [];
            Record(d, e);
        }
        foreach (var o in Others) o.OnRouting(e);
    }

    private static void Record(Dictionary<int, LayerRecord> layers, RoutingEvent e)
    {
        if (!layers.TryGetValue(e.LayerIndex, out var rec)) layers[e.LayerIndex] = rec = new LayerRecord(e.NumExperts);
        var idx = e.TopKIndices.data<long>().ToArray();
        var w = e.TopKWeights.to(ScalarType.Float64).data<double>().ToArray();
        var tok = e.TokenIds.data<long>().ToArray();
        int k = e.TopK;
        for (int i = 0; i < tok.Length; i++)
            rec.Tokens.Add(new RoutedToken(tok[i], idx.Skip(i * k).Take(k).Select(x => (int)x).ToArray(), w.Skip(i * k).Take(k).ToArray()));
        for (int x = 0; x < e.NumExperts; x++)
        {
            var rows = e.ExpertRows[x].data<long>().ToArray();
            var gates = e.ExpertGates[x].to(ScalarType.Float64).data<double>().ToArray();
            var y = e.ExpertOutputs![x].to(ScalarType.Float64).contiguous();
            long h = y.shape[1];
            var ys = y.data<double>().ToArray();
            for (int r = 0; r < rows.Length; r++)
            {
                int row = (int)rows[r];
                double gateSum = w.Skip(row * k).Take(k).Sum();
                rec.Rows[x].Add(new ExpertRow(tok[row], gates[r], gateSum, ys.Skip((int)(r * h)).Take((int)h).ToArray()));
            }
        }
    }

    /// <summary>Adds each expert's current gradient (copied to doubles) to the layer's record.</summary>
    public void RecordGradients(IEnumerable<IMoeLayerView> views)
    {
        foreach (var v in views)
        {
            var rec = Layers[v.LayerIndex];
            rec.Grad ??= Enumerable.Range(0, v.NumExperts).Select(_ => new double[3 * v.ExpertIntermediateSize * v.HiddenSize]).ToArray();
            for (int e = 0; e < v.NumExperts; e++)
            {
                var parts = new[] { v.GateProjGrad(e), v.UpProjGrad(e), v.DownProjGrad(e) };
                int offset = 0;
                foreach (var g in parts)
                {
                    int size = v.ExpertIntermediateSize * v.HiddenSize;
                    if (g is not null)
                    {
                        var a = g.to(ScalarType.Float64).contiguous().data<double>().ToArray();
                        for (int i = 0; i < size; i++) rec.Grad[e][offset + i] += a[i];
                    }
                    offset += size;
                }
            }
        }
    }
}
