using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using MoePrune.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.IO;

/// <summary>
/// Small named managed arrays (the statistics file's F64, I64, U64 and F32 tables) with string metadata through
/// the one safetensors writer and reader, checked against a hand parse of the file.
/// </summary>
public class SafetensorsArrayTests(ITestOutputHelper output)
{
    [Fact]
    public void ArraysAndMetadataRoundTripAndTheFileIsPlainSafetensors()
    {
        using var dir = new TempDir();
        var rng = new Random(5);
        double[] f64 = [1.5, -0.0, double.NaN, double.Epsilon, 1e300, 3, 4, 5, 6, 7, 8, 9];
        long[] i64 = [long.MinValue, -1, 0, long.MaxValue];
        ulong[] u64 = [0, 1, ulong.MaxValue, 0x8000_0000_0000_0001];
        float[] f32 = Enumerable.Range(0, 6).Select(_ => (float)rng.NextDouble()).ToArray();
        var meta = new Dictionary<string, string> { ["moeprune.criteria_stats"] = "{\"version\":2,\"note\":\"é ✓\"}" };
        string path = dir["stats.safetensors"];
        SafetensorsWriter.WriteOutputs(path,
        [
            OutputTensor.FromArray("all.layers.0.sum_y", f64, 3, 4),
            OutputTensor.FromArray("all.layers.0.count", i64),
            OutputTensor.FromArray("all.layers.0.token_set.0", u64),
            OutputTensor.FromArray("all.layers.0.grad.0", f32, 2, 3),
            OutputTensor.FromArray("empty", Array.Empty<double>()),
        ], meta);

        using (var st = SafetensorsFile.Open(path))
        {
            Assert.Equal(meta["moeprune.criteria_stats"], st.Metadata["moeprune.criteria_stats"]);
            Assert.Equal("pt", st.Metadata["format"]);
            Assert.Equal([3L, 4], st.Tensors["all.layers.0.sum_y"].Shape);
            Assert.Equal(SafeDtype.U64, st.Tensors["all.layers.0.token_set.0"].Dtype);
            Assert.Equal(MemoryMarshal.AsBytes(f64.AsSpan()).ToArray(), MemoryMarshal.AsBytes(st.ReadArray<double>("all.layers.0.sum_y").AsSpan()).ToArray());
            Assert.Equal(i64, st.ReadArray<long>("all.layers.0.count"));
            Assert.Equal(u64, st.ReadArray<ulong>("all.layers.0.token_set.0"));
            var into = new float[6];
            st.ReadArray<float>("all.layers.0.grad.0", into);
            Assert.Equal(f32, into);
            Assert.Empty(st.ReadArray<double>("empty"));

            var e = Assert.Throws<MoePruneException>(() => st.ReadArray<float>("all.layers.0.sum_y"));
            Assert.Equal($"{path}: tensor \"all.layers.0.sum_y\" has dtype F64, expected F32", e.Message);
            e = Assert.Throws<MoePruneException>(() => st.ReadArray<long>("all.layers.0.count", new long[3]));
            Assert.Contains("has 4 elements (shape [4]), expected 3", e.Message);
        }

        // Hand parse: 8-byte length, JSON header, data back to back in the order written.
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n));
        byte[] expectedData = [.. MemoryMarshal.AsBytes(f64.AsSpan()), .. MemoryMarshal.AsBytes(i64.AsSpan()),
                               .. MemoryMarshal.AsBytes(u64.AsSpan()), .. MemoryMarshal.AsBytes(f32.AsSpan())];
        Assert.Equal(expectedData, bytes[(int)(8 + n)..]);
        var u = header.RootElement.GetProperty("all.layers.0.token_set.0");
        Assert.Equal("U64", u.GetProperty("dtype").GetString());
        Assert.Equal([128L, 160L], u.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()));
        output.WriteLine($"header {n} bytes, data {expectedData.Length} bytes, all equal");
    }

    [Fact]
    public void ArrayShapeMustMatchItsLength()
    {
        var e = Assert.Throws<ArgumentException>(() => OutputTensor.FromArray("x", new double[5], 2, 3));
        Assert.Contains("array \"x\" has 5 elements", e.Message);
    }
}
