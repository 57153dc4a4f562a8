using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.IO;

/// <summary>
/// The value-seeing fingerprint: against a naive re-implementation of the documented byte sequence (raw file
/// bytes, header parsed by hand), under value edits and copies, and as computed by the loader while it reads.
/// </summary>
public class CheckpointFingerprintTests(ITestOutputHelper output)
{
    /// <summary>Copies a fixture checkpoint's files (not expected.safetensors) into a new directory.</summary>
    internal static string CopyCheckpoint(string fixture, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(ModelFixtures.Dir(fixture)).Where(f => Path.GetFileName(f) != "expected.safetensors"))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        return to;
    }

    /// <summary>The documented byte sequence, built from the raw files with no MoePrune reader involved.</summary>
    internal static string NaiveFingerprint(string dir)
    {
        var sequence = new MemoryStream();
        void WithLength(byte[] bytes)
        {
            var n = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(n, bytes.Length);
            sequence.Write(n);
            sequence.Write(bytes);
        }
        sequence.Write(Encoding.ASCII.GetBytes("moeprune-checkpoint-fingerprint-v1\0"));
        WithLength(File.ReadAllBytes(Path.Combine(dir, "config.json")));
        string index = Path.Combine(dir, "model.safetensors.index.json");
        var shards = File.Exists(index)
            ? JsonDocument.Parse(File.ReadAllText(index)).RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct().ToList()
            : ["model.safetensors"];
        foreach (var shard in shards)
        {
            var file = File.ReadAllBytes(Path.Combine(dir, shard));
            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
            var header = file[8..(int)(8 + n)];
            WithLength(Encoding.UTF8.GetBytes(shard));
            WithLength(header);
            var ranges = JsonDocument.Parse(header).RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
                .Select(p => p.Value.GetProperty("data_offsets")).Select(o => (Begin: o[0].GetInt64(), End: o[1].GetInt64()))
                .OrderBy(r => r.Begin).ThenBy(r => r.End);
            foreach (var (begin, end) in ranges)
                sequence.Write(XxHash128.Hash(file.AsSpan((int)(8 + n + begin), (int)(end - begin))));
        }
        return Convert.ToHexStringLower(XxHash128.Hash(sequence.ToArray()));
    }

    public static TheoryData<string> Cases() => new(ModelFixtures.Cases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ComputeAndTheLoaderFollowTheDocumentedByteSequence(string fixture)
    {
        string dir = ModelFixtures.Dir(fixture);
        string naive = NaiveFingerprint(dir);
        string computed = CheckpointFingerprint.Compute(dir);
        using var model = ModelLoader.Load(dir);
        using var converted = ModelLoader.Load(dir, model.Dtype == ScalarType.Float32 ? ScalarType.BFloat16 : ScalarType.Float32); // converting read path
        output.WriteLine($"{fixture}: naive {naive}, Compute {computed}, loader {model.Fingerprint}, loader ({converted.Dtype}) {converted.Fingerprint}");
        Assert.Equal(32, computed.Length);
        Assert.Equal(naive, computed);
        Assert.Equal(computed, model.Fingerprint);
        Assert.Equal(computed, converted.Fingerprint);
    }

    [Theory]
    [InlineData("qwen2_moe_dense_tied_sharded")]
    [InlineData("mixtral_window_fused_sharded")]
    [InlineData("olmoe_bf16")]
    public void OneChangedValueChangesItAndACopyKeepsIt(string fixture)
    {
        using var tmp = new TempDir();
        string a = CopyCheckpoint(fixture, tmp["a"]);
        string b = CopyCheckpoint(fixture, tmp["b"]);
        string original = CheckpointFingerprint.Compute(a);
        Assert.Equal(original, CheckpointFingerprint.Compute(b));                        // byte-identical copy elsewhere

        // Flip the lowest bit of one element in the middle of the last tensor's data of the last shard.
        string shard;
        long at;
        using (var checkpoint = CheckpointDirectory.Open(b))
        {
            shard = Path.Combine(b, checkpoint.ShardFiles[^1]);
            var (length, _) = RawSafetensors.Header(shard);
            var last = checkpoint.Shard(checkpoint.ShardFiles[^1]).Tensors.Values.Last();
            at = 8 + length + last.Begin + last.Bytes / 2 / SafeDtypes.SizeOf(last.Dtype) * SafeDtypes.SizeOf(last.Dtype);
            output.WriteLine($"{fixture}: changing {last.Name} in {Path.GetFileName(shard)} at byte {at}");
        }
        var bytes = File.ReadAllBytes(shard);
        bytes[at] ^= 1;
        File.WriteAllBytes(shard, bytes);
        string changed = CheckpointFingerprint.Compute(b);
        using var loaded = ModelLoader.Load(b);
        output.WriteLine($"{fixture}: {original} → {changed}");
        Assert.NotEqual(original, changed);
        Assert.Equal(changed, loaded.Fingerprint);
        Assert.Equal(NaiveFingerprint(b), changed);
    }

    [Fact]
    public void HashingWhileReadingEqualsHashingTheBytesAtOnce()
    {
        using var tmp = new TempDir();
        var bytes = new byte[3 * TensorBytes.HashPieceBytes + 4 * 12345];                 // several pieces, uneven tail
        new Random(9).NextBytes(bytes);
        string path = tmp["raw.bin"];
        File.WriteAllBytes(path, [0xCD, .. bytes]);                                        // 1-byte prefix: unaligned source
        var expected = XxHash128.Hash(bytes);
        using var handle = File.OpenHandle(path);
        using var tensor = empty([bytes.Length / 4], ScalarType.Float32);
        var hash = new XxHash128();
        TensorBytes.ReadFromFile(handle, 1, tensor, path, chunkBytes: 2 * TensorBytes.HashPieceBytes + 4, hash: hash); // chunks across pieces
        Assert.Equal(expected, hash.GetHashAndReset());
        Assert.Equal(bytes, tensor.RawBytes());
        TensorBytes.CopyFileRange(handle, 1, bytes.Length, destination: null, path, hash);
        Assert.Equal(expected, hash.GetHashAndReset());
    }
}
