using MoePrune.Criteria;
using MoePrune.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Layerwise;

/// <summary>Criteria, calibration files and report comparisons for the layer-by-layer tests.</summary>
static class LayerwiseSupport
{
    /// <summary>Every criterion a layer-by-layer run serves: all but the gradient ones, plus naee.</summary>
    public static IReadOnlyList<CriterionSpec> ForwardCriteria =>
        CriterionSpec.AllScores.Where(c => !c.Needs.Gradients).Append(CriterionSpec.Parse("naee")).ToList();

    /// <summary>A two-source calibration spec over token files with ids in [3, vocab) (per-source statistics included).</summary>
    public static string Mix(MoePrune.Tests.IO.TempDir tmp, int vocab) =>
        $"tokens:{Jobs.JobSupport.WriteTokens(tmp["a.txt"], 30, hi: vocab, seed: 1)},tokens:{Jobs.JobSupport.WriteTokens(tmp["b.txt"], 30, hi: vocab, seed: 2)}";

    /// <summary>
    /// For a checkpoint with group-limited routing, a keep-map written to <paramref name="file"/>: the reference fixture's
    /// group-balanced prune where it has one (pruned.keep.i), else one expert less per group. Null for other checkpoints.
    /// </summary>
    public static string? KeepMap(MoePrune.Models.MoeConfig config, string fixture, string file)
    {
        if (!config.Groups.IsGroupLimited) return null;
        var expected = Families.DeepseekFixtures.Expected(fixture);
        var keep = Families.DeepseekFixtures.PrunedKeep(expected);
        foreach (var t in expected.Values) t.Dispose();
        if (keep.Count == 0)
            foreach (int layer in config.MoeLayerIndices)
            {
                int e = config.ExpertsInLayer(layer), size = e / config.Groups.NGroup;
                keep[layer] = Enumerable.Range(0, e).Where(x => x % size != layer % size).ToArray();   // one per group
            }
        File.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(keep.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value)));
        return file;
    }

    /// <summary>|x − y| / max(|x|, |y|), 0 when both are below 1e-12.</summary>
    public static double Rel(double x, double y) => Math.Abs(x - y) / Math.Max(1e-12, Math.Max(Math.Abs(x), Math.Abs(y)));

    /// <summary>Asserts two reports hold the same criteria, sources and layers with values within <paramref name="tolerance"/> relative, and the same NAEE subsets; returns the largest difference.</summary>
    public static double AssertSameScores(ScoresReport expected, ScoresReport actual, ITestOutputHelper output, double tolerance = 1e-6)
    {
        Assert.Equal(expected.Criteria.Keys, actual.Criteria.Keys);
        double max = 0;
        foreach (var (name, e) in expected.Criteria)
        {
            var a = actual.Criteria[name];
            Assert.Equal(e.Drops, a.Drops);
            var sets = new List<(string, SortedDictionary<int, LayerReport>, SortedDictionary<int, LayerReport>)> { ("all", e.Layers, a.Layers) };
            Assert.Equal(e.Sources?.Keys, a.Sources?.Keys);
            foreach (var (source, layers) in e.Sources ?? []) sets.Add((source, layers, a.Sources![source]));
            foreach (var (set, el, al) in sets)
            {
                Assert.Equal(el.Keys, al.Keys);
                foreach (var (layer, values) in el)
                {
                    double d = values.Values.Zip(al[layer].Values, Rel).DefaultIfEmpty(0).Max();
                    Assert.True(d <= tolerance, $"{name} [{set}] layer {layer}: max relative difference {d:E2}");
                    max = Math.Max(max, d);
                }
            }
        }
        Assert.Equal(expected.Naee is null, actual.Naee is null);
        foreach (var (layer, e) in expected.Naee ?? [])
        {
            var a = actual.Naee![layer];
            Assert.Equal(e.Best.Experts, a.Best.Experts);
            Assert.Equal(e.InputRows, a.InputRows);
            foreach (var (size, list) in e.Evaluated)
                foreach (var (x, y) in list.Zip(a.Evaluated[size]))
                {
                    Assert.Equal(x.Experts, y.Experts);
                    double d = Rel(x.Error, y.Error);
                    Assert.True(d <= tolerance, $"naee layer {layer} subset [{string.Join(",", x.Experts)}]: relative difference {d:E2}");
                    max = Math.Max(max, d);
                }
        }
        Assert.Equal(expected.Metadata.CheckpointFingerprint, actual.Metadata.CheckpointFingerprint);
        Assert.Equal(expected.Metadata.Tokens, actual.Metadata.Tokens);
        output.WriteLine($"max relative difference {max:E3} over {expected.Criteria.Count} criteria");
        return max;
    }

    /// <summary>Asserts two checkpoint directories hold byte-identical files, the record (pruning.json) aside; returns the files compared.</summary>
    public static int AssertSameFiles(string expected, string actual, string record = PruneJob.RecordFile)
    {
        var files = Directory.GetFiles(expected).Select(Path.GetFileName).Where(f => f != record).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(actual).Select(Path.GetFileName).Where(f => f != record).Order().ToList());
        foreach (var f in files)
            Assert.True(File.ReadAllBytes(Path.Combine(expected, f!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, f!))), $"{f} differs");
        return files.Count;
    }
}
