using System.Text;
using MoePrune.IO.Gguf;
using MoePrune.Tests.IO;
using Xunit;
using static TorchSharp.torch;

namespace MoePrune.Tests.Gguf;

/// <summary>The GGUF container, read back by a reader written here from the format description, and the exact rewrites.</summary>
public class GgufWriterTests
{
    [Fact]
    public void FileReadsBackWithHeaderMetadataInfosAlignmentAndData()
    {
        using var temp = new TempDir();
        var meta = new GgufMetadata().String("general.architecture", "llama").UInt32("llama.block_count", 3)
            .Float32("llama.rope.freq_base", 1e6f).Bool("b", true).Strings("toks", ["a", "é", ""]).Int32s("types", [1, 6])
            .Float32s("scores", [-1.5f, 0f]);
        var a = arange(6, ScalarType.Float32).reshape(2, 3) / 7;                           // (2, 3)
        var b = tensor(new[] { 1.0f, -2.5f, 3.25f, 1e-3f });                               // (4)
        string file = temp["t.gguf"];
        using (var w = GgufWriter.Create(file, meta, [new("a", [2, 3], GgmlType.F32), new("b", [4], GgmlType.BF16)]))
        {
            w.Write("b", 0, b);
            w.Write("a", 3, a[1]);                                                         // second row first
            w.Write("a", 0, a[0]);
            w.Complete();
        }
        var r = new BinaryReader(File.OpenRead(file));
        Assert.Equal(0x46554747u, r.ReadUInt32());
        Assert.Equal(3u, r.ReadUInt32());
        Assert.Equal(2ul, r.ReadUInt64());
        Assert.Equal(7ul, r.ReadUInt64());
        var kv = new Dictionary<string, object>();
        for (int i = 0; i < 7; i++) kv[Str(r)] = Value(r, r.ReadUInt32());
        Assert.Equal("llama", kv["general.architecture"]);
        Assert.Equal(3u, kv["llama.block_count"]);
        Assert.Equal(1e6f, kv["llama.rope.freq_base"]);
        Assert.Equal(true, kv["b"]);
        Assert.Equal(new object[] { "a", "é", "" }, (object[])kv["toks"]);
        Assert.Equal(new object[] { 1, 6 }, (object[])kv["types"]);
        var infos = Enumerable.Range(0, 2).Select(_ =>
        {
            string name = Str(r);
            uint dims = r.ReadUInt32();
            var ne = Enumerable.Range(0, (int)dims).Select(_ => r.ReadUInt64()).ToArray();
            return (name, ne, type: r.ReadUInt32(), offset: r.ReadUInt64());
        }).ToList();
        Assert.Equal(new ulong[] { 3, 2 }, infos[0].ne);                                     // ggml ne: innermost first
        Assert.Equal((0u, 30u), (infos[0].type, infos[1].type));
        Assert.Equal(0ul, infos[0].offset);
        Assert.Equal(32ul, infos[1].offset);                                               // 24 bytes, aligned to 32
        long dataStart = (r.BaseStream.Position + 31) / 32 * 32;
        r.BaseStream.Position = dataStart;
        var floats = Enumerable.Range(0, 6).Select(_ => r.ReadSingle()).ToArray();
        Assert.Equal(a.reshape(-1).data<float>().ToArray(), floats);
        r.BaseStream.Position = dataStart + 32;
        var bf16 = Enumerable.Range(0, 4).Select(_ => BitConverter.Int32BitsToSingle(r.ReadUInt16() << 16)).ToArray();
        Assert.Equal(b.to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray(), bf16);
    }

    [Fact]
    public void IncompleteOrOverlappingDataIsNeverRenamedIntoPlace()
    {
        using var temp = new TempDir();
        string file = temp["t.gguf"];
        using (var w = GgufWriter.Create(file, new GgufMetadata(), [new("a", [4], GgmlType.F32)]))
        {
            w.Write("a", 0, ones(3));
            Assert.Throws<InvalidOperationException>(w.Complete);
            w.Write("a", 2, ones(2));
            Assert.Contains("written twice", Assert.Throws<InvalidOperationException>(w.Complete).Message);
        }
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    /// <summary>
    /// HF RoPE (rotate_half: dims j and j + d/2 form a pair) on W·x equals llama's RoPE (dims 2j and 2j+1 form a
    /// pair) on PermuteRope(W)·x, head by head; computed naively in doubles.
    /// </summary>
    [Fact]
    public void PermutedRowsUnderPairwiseRopeEqualRotateHalfRope()
    {
        int heads = 3, d = 8, hidden = 5, pos = 7;
        var w = randn(heads * d, hidden, dtype: ScalarType.Float64);
        var x = randn(hidden, dtype: ScalarType.Float64);
        var q = w.matmul(x).data<double>().ToArray();
        var qp = GgufTensorPlan.PermuteRope(w, heads).matmul(x).data<double>().ToArray();
        double maxDiff = 0;
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < d / 2; j++)
            {
                double theta = pos / Math.Pow(10000, 2.0 * j / d), c = Math.Cos(theta), s = Math.Sin(theta);
                double a = q[h * d + j], b = q[h * d + j + d / 2];                        // HF pair
                double pa = qp[h * d + 2 * j], pb = qp[h * d + 2 * j + 1];                 // llama pair
                maxDiff = Math.Max(maxDiff, Math.Abs((a * c - b * s) - (pa * c - pb * s)));
                maxDiff = Math.Max(maxDiff, Math.Abs((b * c + a * s) - (pb * c + pa * s)));
            }
        Assert.True(maxDiff < 1e-12, $"max diff {maxDiff}");
    }

    /// <summary>K heads repeated in place: head j of the result is head j / rep; the RMS over the whole projection is unchanged.</summary>
    [Fact]
    public void RepeatedKvHeadsKeepEachHeadAndTheFullWidthRms()
    {
        int kv = 2, rep = 3, d = 4;
        var k = randn(kv * d, 6, dtype: ScalarType.Float64);
        var repeated = GgufTensorPlan.RepeatHeads(k, kv, rep);
        Assert.Equal(new long[] { kv * rep * d, 6 }, repeated.shape);
        for (int h = 0; h < kv * rep; h++)
            Assert.True(repeated.narrow(0, h * d, d).eq(k.narrow(0, h / rep * d, d)).all().item<bool>());
        var x = randn(6, dtype: ScalarType.Float64);
        double Rms(Tensor t) => t.pow(2).mean().sqrt().item<double>();
        Assert.Equal(Rms(k.matmul(x)), Rms(repeated.matmul(x)), 12);
    }

    static string Str(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes((int)r.ReadUInt64()));

    static object Value(BinaryReader r, uint type) => type switch
    {
        4 => r.ReadUInt32(),
        5 => r.ReadInt32(),
        6 => r.ReadSingle(),
        7 => r.ReadByte() != 0,
        8 => Str(r),
        9 => Array(r),
        _ => throw new InvalidDataException($"type {type}"),
    };

    static object[] Array(BinaryReader r)
    {
        uint type = r.ReadUInt32();
        ulong n = r.ReadUInt64();
        return Enumerable.Range(0, (int)n).Select(_ => Value(r, type)).ToArray();
    }
}
