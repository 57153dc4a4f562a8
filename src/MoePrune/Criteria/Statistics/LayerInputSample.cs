using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// The first <see cref="Capacity"/> inputs (post-attention-normed hidden states) a MoE layer saw, fp32, in the
/// order seen. A neutral sample for methods that re-run the layer on real inputs: NAEE's reconstruction error,
/// expert-output similarity (every expert on the same rows) and fitted merge coefficients. Merging concatenates
/// up to the capacity (this sample's rows first). Never kept per source.
/// </summary>
public sealed class LayerInputSample : ILayerStatistic
{
    /// <summary>Default number of rows kept per layer.</summary>
    public const int DefaultRows = 4096;

    public static readonly StatisticKind Kind = new("input_sample", "input sample", new(ObserverNeeds.Routing), PerSource: false,
        c => new LayerInputSample(c.LayerIndex, c.InputSampleRows, c.HiddenSize),
        r => Read(r));

    StatisticKind ILayerStatistic.Kind => Kind;

    private readonly float[] _data;

    public int LayerIndex { get; }
    /// <summary>Most rows kept.</summary>
    public int Capacity { get; }
    public int HiddenSize { get; }
    /// <summary>Rows held so far (≤ <see cref="Capacity"/>).</summary>
    public int Rows { get; private set; }

    public LayerInputSample(int layerIndex, int capacity, int hiddenSize)
    {
        if (capacity < 1)
            throw new MoePruneException($"layer input sample: {capacity} rows must be positive");
        LayerIndex = layerIndex;
        Capacity = capacity;
        HiddenSize = hiddenSize;
        _data = new float[(long)capacity * hiddenSize];
    }

    /// <summary>The rows held, row-major (Rows·H).</summary>
    public ReadOnlySpan<float> Data => _data.AsSpan(0, Rows * HiddenSize);

    /// <summary>(Rows, H) the rows held as a new CPU tensor of <paramref name="dtype"/>.</summary>
    public Tensor ToTensor(ScalarType dtype) =>
        torch.tensor(Data.ToArray(), [Rows, HiddenSize]).to(dtype);                        // (M, H)

    public void Add(RoutingEvent ev)
    {
        if (Rows >= Capacity) return;
        using var scope = torch.NewDisposeScope();
        var hidden = ev.Hidden.detach().to(ScalarType.Float32);                            // (N, H) MoE inputs, fp32
        if (hidden.shape[1] != HiddenSize)
            throw new MoePruneException($"layer {ev.LayerIndex}: hidden size {hidden.shape[1]} differs from the statistics' {HiddenSize}");
        int take = (int)Math.Min(hidden.shape[0], Capacity - Rows);
        Append(TensorData.Floats(hidden[..take]), take);
    }

    /// <summary>Appends rows (row-major, H wide) until the sample holds <see cref="Capacity"/> rows.</summary>
    public void Append(ReadOnlySpan<float> rows, int rowCount)
    {
        int take = Math.Min(rowCount, Capacity - Rows);
        if (take <= 0) return;
        int h = HiddenSize;
        rows[..(take * h)].CopyTo(_data.AsSpan(Rows * h));
        Rows += take;
    }

    public void MergeFrom(ILayerStatistic other)
    {
        var o = (LayerInputSample)other;
        if (o.HiddenSize != HiddenSize)
            throw new MoePruneException($"layer {LayerIndex}: cannot merge input samples of different sizes ({o.HiddenSize} into {HiddenSize})");
        Append(o.Data, o.Rows);
    }

    public ILayerStatistic EmptyLike() => new LayerInputSample(LayerIndex, Capacity, HiddenSize);

    public void Write(StatisticWriter w)
    {
        w.Size("capacity", Capacity);
        w.Size("hidden_size", HiddenSize);
        w.Size("rows", Rows);
        w.Floats("rows", Data.ToArray(), Rows, HiddenSize);
    }

    private static LayerInputSample Read(StatisticReader r)
    {
        var s = new LayerInputSample(r.Context.LayerIndex, r.IntSize("capacity"), r.IntSize("hidden_size"));
        int rows = r.IntSize("rows");
        if (rows > s.Capacity)
            throw new MoePruneException($"layer {s.LayerIndex}: input sample holds {rows} rows, more than its capacity {s.Capacity}");
        s.Append(r.Floats("rows", (long)rows * s.HiddenSize), rows);
        return s;
    }
}
