using MoePrune.Criteria;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Tests.Criteria;

/// <summary>
/// Two fake MoE layers fed with a few padded batches: the padded positions are dropped before routing
/// (as the model does), so they never appear in the events. A collector and a naive recorder both watch.
/// </summary>
internal sealed class CalibrationRun
{
    public const int Vocab = 40;
    public FakeMoeLayer[] Layers { get; }
    public CriteriaCollector Collector { get; }
    public RecordingObserver Recorder { get; }
    /// <summary>Further collectors fed the very same events and gradients (merge tests).</summary>
    public List<CriteriaCollector> Extra { get; } = [];

    public CalibrationRun(IReadOnlyList<CriterionSpec> criteria, int experts = 6, int topK = 2, int hidden = 16,
        int intermediate = 5, int naeeTokens = 4096, int seed = 7)
    {
        Layers = [
            new FakeMoeLayer(0, experts, topK, hidden, intermediate, seed),
            new FakeMoeLayer(1, experts, topK, hidden, intermediate, seed + 1, renormalize: false),
        ];
        foreach (var layer in Layers)                                                     // a large output channel: 3σ outliers (EAO)
            layer.Set((_, _, _, down) => { for (int e = 0; e < experts / 2; e++) down[e][e].mul_(8); });
        Collector = new CriteriaCollector(criteria, Vocab, naeeTokens, "synthetic");
        Recorder = new RecordingObserver(Collector);
    }

    public static IReadOnlyList<CriterionSpec> AllCriteria => Enum.GetValues<CriterionKind>()
        .Select(CriterionSpec.Default).ToList();

    /// <summary>One batch of 3 sequences × 7 positions with random lengths; returns the non-padded row count.</summary>
    public int RunBatch(int seed, string? source = null, bool gradients = true)
    {
        var rng = new Random(seed);
        var tokens = new List<long>();
        for (int b = 0; b < 3; b++)
        {
            int length = rng.Next(3, 8);                                                   // positions ≥ length are padding
            for (int t = 0; t < length; t++) tokens.Add(rng.Next(0, Vocab - 5));           // ids ≥ Vocab−5 never occur
        }
        int n = tokens.Count, h = Layers[0].HiddenSize;
        var x = torch.tensor(Enumerable.Range(0, n * h).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), [n, h]); // (N, H)
        Recorder.Source = source;
        Collector.CurrentSource = source;
        Extra.ForEach(c => c.CurrentSource = source);
        Recorder.Others.RemoveRange(1, Recorder.Others.Count - 1);
        Recorder.Others.AddRange(Extra);
        var ids = tokens.ToArray();
        var out0 = Layers[0].Forward(x, ids, Recorder);                                   // (N, H)
        var out1 = Layers[1].Forward(x + out0, ids, Recorder);                            // (N, H)
        if (gradients)
        {
            var loss = out0.square().sum() + out1.pow(3).sum();
            loss.backward();
            Collector.AccumulateGradients(Layers);
            Extra.ForEach(c => c.AccumulateGradients(Layers));
            Recorder.RecordGradients(Layers);
            foreach (var l in Layers) l.ZeroGrad();
        }
        return n;
    }

    /// <summary>Three batches: two of source "web", one of source "code".</summary>
    public CalibrationRun RunThree(bool gradients = true)
    {
        RunBatch(11, "web", gradients);
        RunBatch(12, "code", gradients);
        RunBatch(13, "web", gradients);
        return this;
    }
}
