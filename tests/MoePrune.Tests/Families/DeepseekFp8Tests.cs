using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Quantization.Fp8;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Families;

/// <summary>
/// DeepSeek-V3 FP8 checkpoints as shipped (fixture deepseek_v3_fp8_mtp: F8_E4M3 projections with float32 128×128
/// <c>weight_scale_inv</c>, BF16 rest, F32 router bias, an FP8 MTP layer, 3 shards): loaded by dequantizing, pruned with
/// every untouched FP8 tensor and scale byte-identical, merged experts re-quantized with fresh block scales.
/// </summary>
public class DeepseekFp8Tests(ITestOutputHelper output)
{
    const string Name = "deepseek_v3_fp8_mtp";

    [Fact]
    public void LoadedWeightsAreTheBlockDequantizedValues()
    {
        using var scope = NewDisposeScope();
        using var model = ModelLoader.Load(DeepseekFixtures.Dir(Name), ScalarType.Float32);
        var expected = DeepseekFixtures.Expected(Name);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var key in expected.Keys.Where(k => k.StartsWith("dequantized.", StringComparison.Ordinal)))
        {
            var name = key["dequantized.".Length..];
            double diff = ModelFixtures.MaxAbsDiff(parameters[name], expected[key]);
            output.WriteLine($"{name}: max |Δ| vs numpy dequantization {diff}");
            Assert.Equal(0.0, diff);
        }
        Assert.Equal(72, model.Fp8!.Names.Count);                                       // 48 main + 24 MTP-layer projections
        Assert.Contains("model.layers.2.mlp.experts.7.down_proj.weight", model.Fp8.Names);
        Assert.Equal(ScalarType.Float32, model.Model.Layers[1].Moe!.Router.ScoreCorrectionBias!.dtype);
    }

    /// <summary>
    /// A group-balanced prune from the checkpoint directory (never loading the model): every tensor outside the pruned
    /// experts and routers is a byte copy, each kept expert is its original's bytes (FP8 codes and scale) under its new
    /// number; and the same prune exported from the bf16-loaded model is byte-identical file for file, because
    /// re-encoding a loaded weight with its recorded scale reproduces the stored codes.
    /// </summary>
    [Fact]
    public void PruneKeepsEveryUntouchedFp8TensorAndScaleByteIdentical()
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        var expected = DeepseekFixtures.Expected(Name);
        ExpertPlan plan;
        Dictionary<int, IReadOnlyList<int>> kept;
        using (var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(Name)))
        {
            plan = DeepseekFixtures.PrunedPlan(source, expected);
            kept = KeptOf(plan, source.Config);
            ExpertSurgery.Export(source, plan, new SafetensorsCheckpointSink(tmp["from-dir"], 100_000));
        }
        using (var model = ModelLoader.Load(DeepseekFixtures.Dir(Name)))
            ExpertSurgery.Export(model, plan, tmp["from-model"], maxShardBytes: 100_000);

        using var original = CheckpointDirectory.Open(DeepseekFixtures.Dir(Name));
        using var pruned = CheckpointDirectory.Open(tmp["from-dir"]);
        int copied = 0, fp8 = 0;
        foreach (var (name, entry) in pruned.Tensors)
        {
            if (name.Contains(".mlp.gate.")) continue;                                  // router rows: sliced
            string from = OriginalName(name, kept);
            Assert.Equal(original.Tensors[from].Dtype, entry.Dtype);
            Assert.Equal(Bytes(original, from), Bytes(pruned, name));
            copied++;
            if (entry.Dtype == SafeDtype.F8_E4M3) fp8++;
        }
        Assert.Equal(72 - 2 * 2 * 3, fp8);                                              // two experts of three projections gone from each of 2 layers
        foreach (var file in Directory.GetFiles(tmp["from-dir"]).Select(Path.GetFileName))
            Assert.Equal(File.ReadAllBytes(Path.Combine(tmp["from-dir"], file!)), File.ReadAllBytes(Path.Combine(tmp["from-model"], file!)));
        output.WriteLine($"{copied} tensors byte-identical to their originals ({fp8} FP8, each with its scale); "
                         + $"{pruned.ShardFiles.Count} shards identical from the directory and from the bf16-loaded model");
    }

    /// <summary>
    /// A merged expert in an FP8 layer is stored as FP8 with fresh scales amax/448: after export and reload each weight is
    /// within half an FP8 step (of its block's scale) of the merged value, and Apply gives exactly the reloaded model.
    /// </summary>
    [Fact]
    public void MergedExpertIsRequantizedWithFreshScalesWithinOneFp8Step()
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        using var full = ModelLoader.Load(DeepseekFixtures.Dir(Name), ScalarType.Float32);
        var expected = DeepseekFixtures.Expected(Name);
        using var source = new ModelTensorSource(full);
        var plan = DeepseekFixtures.PrunedPlan(source, expected);
        var block = full.Model.Layers[1].Moe!;
        var merged = new[] { block.GateProj(0), block.UpProj(0), block.DownProj(0) }
            .Select((w, p) => ((w + p switch { 0 => block.GateProj(1), 1 => block.UpProj(1), _ => block.DownProj(1) }) / 2).detach())
            .ToArray();                                                                  // (I, H), (I, H), (H, I)
        var routerRow = ((block.Router.Weight[0] + block.Router.Weight[1]) / 2).detach();  // (H)
        plan.Replace(1, 0, merged[0], merged[1], merged[2], routerRow, derivedFrom: 0);

        ExpertSurgery.Export(full, plan, tmp["out"]);
        using var applied = ExpertSurgery.Apply(full, plan);
        using var reloaded = ModelLoader.Load(tmp["out"], ScalarType.Float32);
        using var written = CheckpointDirectory.Open(tmp["out"]);
        double worst = 0;
        string[] projections = ["gate_proj", "up_proj", "down_proj"];
        for (int p = 0; p < 3; p++)
        {
            string name = $"model.layers.1.mlp.experts.0.{projections[p]}.weight";
            Assert.Equal(SafeDtype.F8_E4M3, written.Tensors[name].Dtype);
            var scale = written.Read(name + Fp8Weights.ScaleSuffix);                     // (R/128, C/128) fp32
            Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(scale, FreshScales(merged[p])));
            var back = reloaded.named_parameters().First(q => q.name == name).parameter; // (R, C) dequantized
            worst = Math.Max(worst, StepsAway(back, merged[p], scale));
        }
        var ids = expected["input_ids"];
        using var noGrad = no_grad();
        double applyVsReload = ModelFixtures.MaxAbsDiff(applied.Logits(ids), reloaded.Logits(ids));
        output.WriteLine($"merged expert: largest error {worst:F4} FP8 steps; Apply vs export+reload max |Δlogit| {applyVsReload}");
        Assert.True(worst <= 0.5 + 1e-6, $"a re-quantized weight is {worst} FP8 steps from the merged value");
        Assert.True(worst > 0.1, "the merged values must not be on the FP8 grid already");
        Assert.Equal(0.0, applyVsReload);
    }

    [Fact]
    public void Fp8WeightsWithoutQuantizationConfigOrWithABadScaleAreRefused()
    {
        using var tmp = new TempDir();
        using (var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(Name)))
        {
            var config = JsonFile.ReadObject(Path.Combine(DeepseekFixtures.Dir(Name), CheckpointDirectory.ConfigFile));
            const string bad = "model.layers.1.mlp.experts.3.up_proj.weight_scale_inv";
            CheckpointWriter.WriteOutputs(tmp["bad-scale"], config, source.Tensors.Values.Select(t => t.Name == bad
                ? OutputTensor.FromArray(t.Name, new float[] { 1f, 1f }, 1, 2)
                : new OutputTensor(t.Name, t.Dtype, t.Shape, s => source.CopyBytes(t.Name, s))));
            CheckpointWriter.WriteOutputs(tmp["no-scale"], config, source.Tensors.Values.Where(t => t.Name != bad)
                .Select(t => new OutputTensor(t.Name, t.Dtype, t.Shape, s => source.CopyBytes(t.Name, s))));
            config.Remove("quantization_config");
            CheckpointWriter.WriteOutputs(tmp["no-config"], config, source.Tensors.Values
                .Select(t => new OutputTensor(t.Name, t.Dtype, t.Shape, s => source.CopyBytes(t.Name, s))));
        }
        foreach (var (dir, part) in new[] { ("bad-scale", "up_proj.weight_scale_inv F32[1, 2], expected F32[2, 1]"),
                                            ("no-scale", "without its model.layers.1.mlp.experts.3.up_proj.weight_scale_inv"),
                                            ("no-config", "no block-FP8 quantization_config") })
        {
            var e = Assert.Throws<MoePruneException>(() => ModelLoader.Load(tmp[dir]));
            output.WriteLine($"{dir}: {e.Message}");
            Assert.Contains(part, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    /// <summary>The kept originals per layer of a keep plan, read back through plan resolution.</summary>
    static Dictionary<int, IReadOnlyList<int>> KeptOf(ExpertPlan plan, MoeConfig config) =>
        ResolvedExpertPlan.Resolve(config, plan, false).Slots
            .Where(kv => kv.Value.Length != config.ExpertsInLayer(kv.Key))
            .ToDictionary(kv => kv.Key, kv => (IReadOnlyList<int>)kv.Value.Select(s => s.Original).ToArray());

    /// <summary>The source tensor an output tensor was copied from: a kept expert's original number, else the same name.</summary>
    static string OriginalName(string name, Dictionary<int, IReadOnlyList<int>> kept)
    {
        var m = System.Text.RegularExpressions.Regex.Match(name, @"^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(.+)$");
        if (!m.Success || !kept.TryGetValue(int.Parse(m.Groups[1].Value), out var originals)) return name;
        return $"model.layers.{m.Groups[1].Value}.mlp.experts.{originals[int.Parse(m.Groups[2].Value)]}.{m.Groups[3].Value}";
    }

    static byte[] Bytes(CheckpointDirectory checkpoint, string name)
    {
        using var stream = new MemoryStream();
        checkpoint.FileOf(name).CopyBytes(name, stream);
        return stream.ToArray();
    }

    /// <summary>amax(|block|)/448 per 128×128 block, computed here with plain tensor ops. (R/128, C/128)</summary>
    static Tensor FreshScales(Tensor w)
    {
        long rows = w.shape[0], cols = w.shape[1], br = (rows + 127) / 128, bc = (cols + 127) / 128;
        var scales = zeros(br, bc);
        for (long i = 0; i < br; i++)
            for (long j = 0; j < bc; j++)
            {
                var block = w.narrow(0, i * 128, Math.Min(128, rows - i * 128)).narrow(1, j * 128, Math.Min(128, cols - j * 128));
                scales[i, j] = block.abs().max().to(ScalarType.Float32) / 448f;
            }
        return scales;
    }

    /// <summary>The largest |back − w| in units of the e4m3 spacing at |w|/scale (2^-9 below 2^-6, else 2^(⌊log2⌋−3)) times the block scale.</summary>
    static double StepsAway(Tensor back, Tensor w, Tensor scale)
    {
        var b = back.to(ScalarType.Float64).data<double>().ToArray();
        var v = w.to(ScalarType.Float64).data<double>().ToArray();
        var s = scale.to(ScalarType.Float64).data<double>().ToArray();
        long cols = w.shape[1], scaleCols = scale.shape[1];
        double worst = 0;
        for (int i = 0; i < v.Length; i++)
        {
            double blockScale = s[i / cols / 128 * scaleCols + i % cols / 128];
            double x = Math.Abs(v[i]) / blockScale;
            double step = x < Math.Pow(2, -6) ? Math.Pow(2, -9) : Math.Pow(2, Math.Floor(Math.Log2(x)) - 3);
            worst = Math.Max(worst, Math.Abs(b[i] - v[i]) / (step * blockScale));
        }
        return worst;
    }
}
