using System.Text.Json;
using MoePrune.IO;
using MoePrune.Native;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.IO;

/// <summary>
/// Reads files written by an independent writer (fixtures/safetensors/make_fixtures.py: numpy + json)
/// and compares bytes and values exactly with the expected.json produced alongside them.
/// </summary>
public class SafetensorsFixtureTests(ITestOutputHelper output)
{
    static readonly string Root = Path.Combine(AppContext.BaseDirectory, "fixtures", "safetensors");

    static JsonElement Expected(string file)
    {
        TorchNative.EnsureLoaded();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "expected.json")));
        return doc.RootElement.GetProperty(file).Clone();
    }

    [Theory]
    [InlineData("dtypes.safetensors")]
    [InlineData("unaligned.safetensors")]
    [InlineData("sharded/model-00001-of-00002.safetensors")]
    [InlineData("sharded/model-00002-of-00002.safetensors")]
    public void ReadsEveryTensorBitExact(string file)
    {
        var expected = Expected(file);
        using var st = SafetensorsFile.Open(Path.Combine(Root, file));
        Assert.Equal(expected.EnumerateObject().Select(p => p.Name).OrderBy(n => n, StringComparer.Ordinal),
                     st.Tensors.Keys.OrderBy(n => n, StringComparer.Ordinal));
        foreach (var prop in expected.EnumerateObject())
        {
            var entry = st.Tensors[prop.Name];
            Assert.Equal(prop.Value.GetProperty("dtype").GetString(), entry.Dtype.ToString());
            Assert.Equal(prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), entry.Shape);
            using var t = st.Read(prop.Name);
            Assert.Equal(entry.Shape, t.shape);
            Assert.Equal(SafeDtypes.ToTorch(entry.Dtype), t.dtype);
            Assert.Equal(prop.Value.GetProperty("hex").GetString(), Convert.ToHexStringLower(t.RawBytes()));
            int compared = CompareValues(t, prop.Value.GetProperty("values"), prop.Name);
            output.WriteLine($"{file} {prop.Name}: {compared} values equal, max |diff| = 0");
        }
    }

    /// <summary>Checks the tensor's numeric values (not just bytes): this is what catches a wrong dtype mapping.</summary>
    static int CompareValues(torch.Tensor t, JsonElement values, string name)
    {
        var expected = values.EnumerateArray().ToList();
        Assert.Equal(expected.Count, (int)t.NumberOfElements);
        if (t.dtype == torch.ScalarType.Bool)
        {
            using var b = t.reshape(-1);
            for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].GetBoolean(), b[i].item<bool>());
        }
        else if (torch.is_floating_point(t.dtype))
        {
            using var d = t.to(torch.ScalarType.Float64).reshape(-1);    // (N,) exact widening
            var actual = d.data<double>().ToArray();
            for (int i = 0; i < expected.Count; i++)
            {
                var e = expected[i];
                if (e.ValueKind == JsonValueKind.String)
                {
                    switch (e.GetString())
                    {
                        case "nan": Assert.True(double.IsNaN(actual[i]), $"{name}[{i}] expected NaN"); break;
                        case "inf": Assert.Equal(double.PositiveInfinity, actual[i]); break;
                        case "-inf": Assert.Equal(double.NegativeInfinity, actual[i]); break;
                        case "-0.0": Assert.True(actual[i] == 0 && double.IsNegative(actual[i]), $"{name}[{i}] expected -0.0"); break;
                    }
                }
                else Assert.Equal(e.GetDouble(), actual[i]);
            }
        }
        else
        {
            using var l = t.to(torch.ScalarType.Int64).reshape(-1);
            var actual = l.data<long>().ToArray();
            for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].GetInt64(), actual[i]);
        }
        return expected.Count;
    }

    [Fact]
    public void ReadsMetadataAndFileOrder()
    {
        using var st = SafetensorsFile.Open(Path.Combine(Root, "dtypes.safetensors"));
        Assert.Equal("pt", st.Metadata["format"]);
        Assert.Equal("numpy", st.Metadata["source"]);
        var begins = st.Tensors.Values.Select(e => e.Begin).ToList();
        Assert.Equal(begins.Order(), begins);
        Assert.Equal(0, st.Tensors["empty.f32"].Elements);
        Assert.Empty(st.Tensors["scalar.f32"].Shape);
        using var scalar = st.Read("scalar.f32");
        Assert.Equal(0, scalar.dim());
        Assert.Equal(3.25f, scalar.item<float>());
    }

    [Fact]
    public void UnalignedFileHasOddOffsets()
    {
        using var st = SafetensorsFile.Open(Path.Combine(Root, "unaligned.safetensors"));
        var (length, _) = RawSafetensors.Header(st.Path);
        Assert.Equal(1, (8 + length) % 2);                                  // data section starts at an odd offset
        Assert.Empty(st.Metadata);
        using var t = st.Read("i64.odd");
        Assert.Equal([-5L, 1L << 40], t.data<long>().ToArray());
    }

    [Fact]
    public void OpensTheShardedCheckpoint()
    {
        using var ckpt = CheckpointDirectory.Open(Path.Combine(Root, "sharded"));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "expected.json")));
        long total = doc.RootElement.GetProperty("sharded_total_size").GetInt64();
        Assert.Equal(total, ckpt.TotalBytes);
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"], ckpt.ShardFiles.Order());
        Assert.Equal(4, ckpt.Tensors.Count);
        Assert.Equal("model-00002-of-00002.safetensors", ckpt.ShardOf("model.norm.weight"));
        Assert.Equal("tiny_moe", (string?)ckpt.Config["model_type"]);
        Assert.Equal(["architectures", "model_type", "hidden_size", "num_experts", "rope_theta", "torch_dtype"],
                     ckpt.Config.Select(kv => kv.Key));

        var expected = Expected("sharded/model-00001-of-00002.safetensors").GetProperty("model.layers.0.mlp.gate.weight");
        using var gate = torch.zeros(3, 4);                                   // (E, H) fp32 destination
        ckpt.ReadInto("model.layers.0.mlp.gate.weight", gate);               // bf16 → fp32
        var values = expected.GetProperty("values").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        Assert.Equal(values, gate.data<float>().ToArray());
    }

    [Fact]
    public void ConcurrentReadsOfOneFileAgreeWithSequentialReads()
    {
        TorchNative.EnsureLoaded();
        using var st = SafetensorsFile.Open(Path.Combine(Root, "dtypes.safetensors"));
        var names = st.Tensors.Keys.ToList();
        var sequential = names.Select(n => { using var t = st.Read(n); return t.RawBytes(); }).ToList();
        var parallel = new byte[names.Count * 8][];
        Parallel.For(0, parallel.Length, i => { using var t = st.Read(names[i % names.Count]); parallel[i] = t.RawBytes(); });
        for (int i = 0; i < parallel.Length; i++) Assert.Equal(sequential[i % names.Count], parallel[i]);
    }
}
