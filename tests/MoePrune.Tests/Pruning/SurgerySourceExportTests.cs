using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Pruning;

/// <summary>
/// Export straight from a checkpoint directory (no model built) against export from the loaded model, for every
/// fixture (all families; fp32 and bf16; per-expert, fused and sharded layouts): every output file byte-identical;
/// untouched tensors and surviving experts equal to the input's bytes; removed experts never read.
/// </summary>
public class SurgerySourceExportTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() => new(ModelFixtures.Cases);

    /// <summary>Removes expert (2l + 1) mod E of every sparse layer; the first sparse layer's slot 0 becomes the average of its originals 0 and 2 (no single original).</summary>
    static ExpertPlan Plan(ITensorSource source)
    {
        var config = source.Config;
        var layers = config.MoeLayerIndices.ToList();
        var plan = ExpertPlan.Remove(layers.ToDictionary(l => l, l => (IReadOnlyList<int>)[(2 * l + 1) % config.ExpertsInLayer(l)]));
        int first = layers[0];
        string p = $"model.layers.{first}.{config.Family.MoeModuleName}.";
        var (g, u, d) = config.Family.ExpertProjNames;
        Tensor Average(string name) => (source.Read(p + $"experts.0.{name}.weight").to(ScalarType.Float32)
                                        + source.Read(p + $"experts.2.{name}.weight").to(ScalarType.Float32)) / 2;
        using var router = source.Read(p + "gate.weight");                                  // (E, H)
        var row = (router[0].to(ScalarType.Float32) + router[2].to(ScalarType.Float32)) / 2; // (H)
        plan.Replace(first, 0, Average(g), Average(u), Average(d), row, derivedFrom: ExpertSlot.NoOriginal);
        return plan;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExportFromTheCheckpointEqualsExportFromTheLoadedModel(string fixture)
    {
        using var scope = NewDisposeScope();
        string dir = ModelFixtures.Dir(fixture);
        using var tmp = new TempDir();
        using var model = ModelLoader.Load(dir);
        using var disk = CheckpointTensorSource.Open(dir);
        var counting = new CountingSource(disk);
        var plan = Plan(disk);
        long shard = disk.Tensors.Values.Sum(t => t.Bytes) / 3;                            // a sharded output
        ExpertSurgery.Export(model, plan, tmp["from-model"], maxShardBytes: shard, copyAuxFrom: dir);
        counting.Baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;          // the loaded model's tensors are alive
        ExpertSurgery.Export(counting, plan, new SafetensorsCheckpointSink(tmp["from-disk"], shard, copyAuxFrom: dir),
                             extraFiles: new Dictionary<string, JsonNode> { ["pruning.json"] = new JsonObject() });
        File.Delete(Path.Combine(tmp["from-disk"], "pruning.json"));

        var files = Directory.GetFiles(tmp["from-model"]).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(tmp["from-disk"]).Select(Path.GetFileName).Order().ToList());
        Assert.Contains(CheckpointDirectory.IndexFile, files);
        foreach (var file in files)
            Assert.True(File.ReadAllBytes(Path.Combine(tmp["from-model"], file!)).AsSpan()
                            .SequenceEqual(File.ReadAllBytes(Path.Combine(tmp["from-disk"], file!))), $"{file} differs");

        // Untouched tensors and surviving experts hold the input's bytes; removed experts were never read.
        using var exported = CheckpointTensorSource.Open(tmp["from-disk"]);
        var resolved = ResolvedExpertPlan.Resolve(disk.Config, plan, allowNonUniform: false);
        int compared = 0;
        foreach (var (name, _) in exported.Tensors)
        {
            string? original = OriginalName(disk.Config, resolved, name);
            if (original is null) continue;                                               // router or custom slot
            Assert.Equal(Bytes(disk, original), Bytes(exported, name));
            compared++;
        }
        var removed = resolved.Slots.SelectMany(kv => Enumerable.Range(0, disk.Config.ExpertsInLayer(kv.Key))
            .Where(e => kv.Value.All(s => s.Original != e)).Select(e => $"model.layers.{kv.Key}.{disk.Config.Family.MoeModuleName}.experts.{e}.")).ToList();
        Assert.DoesNotContain(counting.Touched, n => removed.Any(r => n.StartsWith(r, StringComparison.Ordinal)));
        Assert.All(counting.Reads, n => Assert.Contains(".gate.weight", n));            // values read only to gather routers
        Assert.Equal(disk.Config.MoeLayerIndices.Count(), counting.Reads.Count);          // one per router
        int parameters = model.named_parameters().Count();
        output.WriteLine($"{fixture}: {files.Count} files byte-identical; {compared} tensors equal to the input's bytes; " +
                         $"{counting.Copies} byte copies, {counting.Reads.Count} value reads, at most {counting.MaxLiveTensors} more live tensors during a read (the model has {parameters} parameters)");
        Assert.True(counting.MaxLiveTensors < parameters, "a model's worth of tensors was alive during the export");
    }

    /// <summary>The input tensor an output tensor copies, or null for routers and custom slots.</summary>
    static string? OriginalName(MoeConfig config, ResolvedExpertPlan plan, string name)
    {
        var m = System.Text.RegularExpressions.Regex.Match(name, $@"^model\.layers\.(\d+)\.{config.Family.MoeModuleName}\.(experts\.(\d+)\.(.+)|gate\.weight)$");
        if (!m.Success) return name;
        if (!m.Groups[3].Success) return null;                                          // router
        var slot = plan.Slots[int.Parse(m.Groups[1].Value)][int.Parse(m.Groups[3].Value)];
        return slot.IsCustom ? null : $"model.layers.{m.Groups[1].Value}.{config.Family.MoeModuleName}.experts.{slot.Original}.{m.Groups[4].Value}";
    }

    static byte[] Bytes(ITensorSource source, string name)
    {
        var stream = new MemoryStream();
        source.CopyBytes(name, stream);
        return stream.ToArray();
    }

    [Fact]
    public void ExportFromACheckpointAndApplyLeaveNoTensorsAlive()
    {
        string dir = ModelFixtures.Dir("mixtral_window_fused_sharded");
        using var tmp = new TempDir();
        using var disk = CheckpointTensorSource.Open(dir);
        using var scope = NewDisposeScope();
        var plan = Plan(disk);                                                             // custom tensors live in this scope
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        ExpertSurgery.Export(disk, plan, new SafetensorsCheckpointSink(tmp["out"], 20_000));
        long afterExport = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var model = ModelLoader.Load(dir);
        long withModel = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        ExpertSurgery.Apply(model, plan).Dispose();
        long afterApply = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        output.WriteLine($"live tensors: {before} before export, {afterExport} after; {withModel} with the model loaded, {afterApply} after Apply + Dispose");
        Assert.Equal(before, afterExport);
        Assert.Equal(withModel, afterApply);
    }

    [Fact]
    public void ASlotWithNoOriginalNeedsACustomExpert()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExpertSlot(ExpertSlot.NoOriginal));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExpertSlot(-2, new ExpertTensors(zeros(1), zeros(1), zeros(1), zeros(1))));
        using var source = CheckpointTensorSource.Open(ModelFixtures.Dir("olmoe_bf16"));
        var plan = ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>> { [0] = [0, 1, 2], [1] = [0, 1, 2] });
        plan.Replace(1, 2, zeros(1), zeros(1), zeros(1), zeros(1), derivedFrom: 7);
        var e = Assert.Throws<MoePruneException>(() => ResolvedExpertPlan.Resolve(source.Config, plan, false));
        Assert.Contains("layer 1: slot 2 derives from expert 7, which does not exist (4 experts)", e.Message);
    }

    /// <summary>Passes everything through to a source and records what is asked of it, and how many tensors are alive meanwhile.</summary>
    sealed class CountingSource(ITensorSource inner) : ITensorSource
    {
        public List<string> Reads { get; } = [];
        public HashSet<string> Touched { get; } = [];
        public int Copies { get; private set; }
        public long MaxLiveTensors { get; private set; }
        public long Baseline { get; set; }

        public string Description => inner.Description;
        public MoeConfig Config => inner.Config;
        public ScalarType? DtypeOverride => inner.DtypeOverride;
        public IReadOnlyDictionary<string, SourceTensor> Tensors => inner.Tensors;

        public Tensor Read(string name)
        {
            Note(name);
            Reads.Add(name);
            var value = inner.Read(name);
            Note(name);
            return value;
        }

        public void ReadInto(string name, Tensor destination)
        {
            Note(name);
            Reads.Add(name);
            inner.ReadInto(name, destination);
        }

        public void CopyBytes(string name, Stream destination)
        {
            Note(name);
            Copies++;
            inner.CopyBytes(name, destination);
        }

        public void Dispose() { }

        void Note(string name)
        {
            Touched.Add(name);
            MaxLiveTensors = Math.Max(MaxLiveTensors, DisposeScopeManager.Statistics.ThreadTotalLiveCount - Baseline);
        }
    }
}
