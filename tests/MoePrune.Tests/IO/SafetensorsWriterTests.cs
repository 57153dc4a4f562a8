using System.Text.Json;
using MoePrune.IO;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.IO;

/// <summary>Writer format details and write → read round trips that must be bit-exact.</summary>
public class SafetensorsWriterTests(ITestOutputHelper output)
{
    /// <summary>A tensor of <paramref name="dtype"/> whose bytes are random (random bit patterns: NaNs with payloads, denormals, ...).</summary>
    static torch.Tensor RandomBits(SafeDtype dtype, long[] shape, Random rng)
    {
        var t = torch.empty(shape, SafeDtypes.ToTorch(dtype));
        var bytes = new byte[t.NumberOfElements * t.ElementSize];
        rng.NextBytes(bytes);
        if (dtype == SafeDtype.BOOL)
            for (int i = 0; i < bytes.Length; i++) bytes[i] &= 1;
        t.bytes = bytes;
        return t;
    }

    [Fact]
    public void RoundTripIsBitExactForEveryDtype()
    {
        using var dir = new TempDir();
        var rng = new Random(7);
        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        foreach (var dtype in Enum.GetValues<SafeDtype>().Where(d => d != SafeDtype.U64))  // U64: arrays only (SafetensorsArrayTests)
        {
            tensors.Add(new($"{dtype}.matrix", RandomBits(dtype, [5, 7], rng)));
            tensors.Add(new($"{dtype}.scalar", RandomBits(dtype, [], rng)));
            tensors.Add(new($"{dtype}.empty", RandomBits(dtype, [3, 0], rng)));
        }
        // Hand-picked patterns: bf16 -0.0, a bf16 NaN with payload, fp32 signalling NaN with payload, fp16 -0.0.
        var bf16 = torch.empty([3], torch.ScalarType.BFloat16);
        bf16.bytes = new byte[] { 0x00, 0x80, 0x81, 0x7F, 0x01, 0xFF };
        var f32 = torch.empty([2], torch.ScalarType.Float32);
        f32.bytes = new byte[] { 0x01, 0x00, 0xA0, 0x7F, 0x00, 0x00, 0x00, 0x80 };
        var f16 = torch.empty([2], torch.ScalarType.Float16);
        f16.bytes = new byte[] { 0x00, 0x80, 0x01, 0x7E };
        tensors.AddRange([new("bf16.patterns", bf16), new("f32.patterns", f32), new("f16.patterns", f16)]);

        string path = dir["all.safetensors"];
        SafetensorsWriter.Write(path, tensors);
        using var st = SafetensorsFile.Open(path);
        Assert.Equal(tensors.Select(kv => kv.Key), st.Tensors.Keys);
        foreach (var (name, original) in tensors)
        {
            using var back = st.Read(name);
            Assert.Equal(original.dtype, back.dtype);
            Assert.Equal(original.shape, back.shape);
            Assert.Equal(original.RawBytes(), back.RawBytes());
        }
        output.WriteLine($"{tensors.Count} tensors round-tripped, all bytes equal (max byte diff 0)");
        foreach (var (_, t) in tensors) t.Dispose();
    }

    [Fact]
    public void HeaderIsPaddedAndCarriesFormatPt()
    {
        using var dir = new TempDir();
        for (int n = 1; n <= 9; n++)                              // name lengths shift the unpadded length through all residues
        {
            string path = dir[$"p{n}.safetensors"];
            using var t = torch.arange(3, dtype: torch.ScalarType.Int16);
            SafetensorsWriter.Write(path, [new(new string('w', n), t)], new Dictionary<string, string> { ["producer"] = "moeprune" });
            var (length, json) = RawSafetensors.Header(path);
            Assert.Equal(0, (8 + length) % 8);
            Assert.Equal(json.TrimEnd(' ').Length + (json.Length - json.TrimEnd(' ').Length), json.Length);
            Assert.EndsWith("}", json.TrimEnd(' '));
            using var doc = JsonDocument.Parse(json);
            var meta = doc.RootElement.GetProperty("__metadata__");
            Assert.Equal("pt", meta.GetProperty("format").GetString());
            Assert.Equal("moeprune", meta.GetProperty("producer").GetString());
            var entry = doc.RootElement.GetProperty(new string('w', n));
            Assert.Equal("I16", entry.GetProperty("dtype").GetString());
            Assert.Equal([0L, 6L], entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(8 + length + 6, new FileInfo(path).Length);
        }
    }

    [Fact]
    public void DataIsPackedWithoutHolesInTheGivenOrder()
    {
        using var dir = new TempDir();
        using var a = torch.ones(3, dtype: torch.ScalarType.BFloat16);
        using var b = torch.ones(2, 2, dtype: torch.ScalarType.Float64);
        using var c = torch.ones(1, dtype: torch.ScalarType.Bool);
        SafetensorsWriter.Write(dir["x.safetensors"], [new("z", a), new("y", b), new("x", c)]);
        using var st = SafetensorsFile.Open(dir["x.safetensors"]);
        Assert.Equal([(0L, 6L), (6L, 38L), (38L, 39L)], st.Tensors.Values.Select(e => (e.Begin, e.End)));
        Assert.Equal(["z", "y", "x"], st.Tensors.Keys);
    }

    [Fact]
    public void WritesNonContiguousTensorsAsTheirValues()
    {
        using var dir = new TempDir();
        using var m = torch.arange(12, dtype: torch.ScalarType.Float32).reshape(3, 4); // (3, 4)
        using var mt = m.t();                                                             // (4, 3) strided view
        SafetensorsWriter.Write(dir["t.safetensors"], [new("mt", mt)]);
        using var st = SafetensorsFile.Open(dir["t.safetensors"]);
        using var back = st.Read("mt");
        Assert.True(back.eq(mt).all().item<bool>());
    }

    [Fact]
    public void FailedWriteLeavesNothingAndOverwriteReplaces()
    {
        using var dir = new TempDir();
        using var ok = torch.zeros(2);
        using var complex = torch.zeros(2, dtype: torch.ScalarType.ComplexFloat32);
        var e = Assert.Throws<MoePruneException>(() => SafetensorsWriter.Write(dir["c.safetensors"], [new("ok", ok), new("c", complex)]));
        Assert.StartsWith(dir["c.safetensors"] + ": tensor \"c\" has dtype ComplexFloat32, which cannot be written", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
        Assert.Throws<MoePruneException>(() => SafetensorsWriter.Write(dir["d.safetensors"], [new("a", ok), new("a", ok)]));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));

        File.WriteAllBytes(dir["o.safetensors"], new byte[10_000]);
        SafetensorsWriter.Write(dir["o.safetensors"], [new("ok", ok)]);
        using var st = SafetensorsFile.Open(dir["o.safetensors"]);
        Assert.Equal(["ok"], st.Tensors.Keys);
        Assert.Single(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void ReadIntoConvertsDtypeChecksShapeAndRecordsNoGrad()
    {
        using var dir = new TempDir();
        using var src = torch.tensor(new float[] { 1.5f, -2f, 3.25f, 1e-3f, 0f, -0f }).reshape(2, 3).to(torch.ScalarType.BFloat16);
        SafetensorsWriter.Write(dir["r.safetensors"], [new("w", src)]);
        using var st = SafetensorsFile.Open(dir["r.safetensors"]);

        using var f32 = torch.nn.Parameter(torch.zeros(2, 3));                // (2, 3) fp32 trainable destination
        st.ReadInto("w", f32);
        using var expected = src.to(torch.ScalarType.Float32);
        Assert.Equal(expected.data<float>().ToArray(), f32.detach().data<float>().ToArray());
        Assert.True(f32.requires_grad);
        Assert.True(f32.is_leaf);

        using var same = torch.zeros([2, 3], torch.ScalarType.BFloat16);      // direct file → memory path
        st.ReadInto("w", same);
        Assert.Equal(src.RawBytes(), same.RawBytes());

        using var big = torch.zeros(3, 2, dtype: torch.ScalarType.BFloat16);
        using var view = big.t();                                              // (2, 3) non-contiguous destination
        st.ReadInto("w", view);
        Assert.Equal(src.RawBytes(), view.RawBytes());

        using var stacked = torch.zeros([4, 2, 3], torch.ScalarType.BFloat16);  // (E, 2, 3) stacked experts
        using var expert2 = stacked[2];                                           // (2, 3) contiguous slice at an offset
        st.ReadInto("w", expert2);
        Assert.Equal(src.RawBytes(), expert2.RawBytes());
        Assert.Equal(0f, stacked[1].abs().sum().ToSingle());
        Assert.Equal(0f, stacked[3].abs().sum().ToSingle());

        using var wrong = torch.zeros(3, 2);
        var e = Assert.Throws<MoePruneException>(() => st.ReadInto("w", wrong));
        Assert.Contains("has shape [2, 3] but the destination has [3, 2]", e.Message);
    }

    [Fact]
    public void ChunkedTransfersMatchWholeTensorBytes()
    {
        using var dir = new TempDir();
        var rng = new Random(3);
        using var t = RandomBits(SafeDtype.F32, [10, 11], rng);              // 440 bytes
        byte[] whole = t.RawBytes();
        using var ms = new MemoryStream();
        TensorBytes.WriteToStream(ms, t, chunkBytes: 12);                   // 3 elements per chunk, uneven tail
        Assert.Equal(whole, ms.ToArray());

        string path = dir["chunks.bin"];
        File.WriteAllBytes(path, [0xAB, .. whole]);                         // 1-byte prefix: unaligned source
        using var handle = File.OpenHandle(path);
        using var back = torch.empty([10, 11], torch.ScalarType.Float32);
        TensorBytes.ReadFromFile(handle, 1, back, path, chunkBytes: 20);
        Assert.Equal(whole, back.RawBytes());
    }
}
