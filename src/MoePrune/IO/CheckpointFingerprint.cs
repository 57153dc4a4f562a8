using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace MoePrune.IO;

/// <summary>
/// A fingerprint of a Hugging Face checkpoint that sees its values: 32 lower-case hex digits of the
/// XxHash128 (seed 0) of this byte sequence:
/// <list type="number">
/// <item>the ASCII tag <c>moeprune-checkpoint-fingerprint-v1</c> and a NUL byte;</item>
/// <item>the byte length of <c>config.json</c> (8 bytes, little-endian), then its bytes;</item>
/// <item>for each safetensors shard in index order (<see cref="CheckpointDirectory.ShardFiles"/>): the byte length
///   of its UTF-8 file name (8 bytes LE) and the name; the header length N (8 bytes LE) and the N header bytes as
///   stored; then, for each tensor of the shard in data order (ascending <c>data_offsets</c>), the 16-byte XxHash128
///   (seed 0, in <see cref="XxHash128"/>'s canonical big-endian form) of that tensor's data bytes.</item>
/// </list>
/// Any change of the config, of tensor names, dtypes, shapes or offsets, or of any tensor value changes it;
/// a byte-identical copy in another directory has the same one. Bytes between tensors (padding) are not covered.
/// Hashing each tensor on its own lets <see cref="Models.ModelLoader"/> compute the same value from the bytes it
/// reads anyway, in whatever order it reads the tensors.
/// </summary>
public static class CheckpointFingerprint
{
    private static readonly byte[] Tag = Encoding.ASCII.GetBytes("moeprune-checkpoint-fingerprint-v1\0");

    /// <summary>Reads every tensor of the checkpoint in <paramref name="dir"/> once (streamed; nothing is kept).</summary>
    public static string Compute(string dir)
    {
        using var checkpoint = CheckpointDirectory.Open(dir);
        return Compute(checkpoint);
    }

    /// <summary>As <see cref="Compute(string)"/> for an open checkpoint.</summary>
    public static string Compute(CheckpointDirectory checkpoint)
    {
        var digests = new TensorDigests();
        var hash = new XxHash128();
        foreach (var shard in checkpoint.ShardFiles)
        {
            var file = checkpoint.Shard(shard);
            foreach (var name in file.Tensors.Keys)
            {
                file.Hash(name, hash);
                digests.Add(name, hash);
            }
        }
        return Combine(checkpoint, digests);
    }

    /// <summary>The fingerprint from the digests of every tensor of <paramref name="checkpoint"/> (see the class comment).</summary>
    public static string Combine(CheckpointDirectory checkpoint, TensorDigests digests)
    {
        var hash = new XxHash128();
        hash.Append(Tag);
        AppendWithLength(hash, File.ReadAllBytes(Path.Combine(checkpoint.Dir, CheckpointDirectory.ConfigFile)));
        foreach (var shard in checkpoint.ShardFiles)
        {
            var file = checkpoint.Shard(shard);
            AppendWithLength(hash, Encoding.UTF8.GetBytes(shard));
            AppendWithLength(hash, file.HeaderJson);
            foreach (var name in file.Tensors.Keys)                              // data order
                hash.Append(digests.Get(name, checkpoint.Dir));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void AppendWithLength(XxHash128 hash, byte[] bytes)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, bytes.LongLength);
        hash.Append(length);
        hash.Append(bytes);
    }
}

/// <summary>The XxHash128 digest of each checkpoint tensor's data bytes, gathered while the tensors are read.</summary>
public sealed class TensorDigests
{
    private readonly Dictionary<string, byte[]> _digests = [];

    /// <summary>Takes the digest of <paramref name="hash"/> (which then starts over) as that of tensor <paramref name="name"/>.</summary>
    public void Add(string name, XxHash128 hash)
    {
        if (!_digests.TryAdd(name, hash.GetHashAndReset()))
            throw new InvalidOperationException($"tensor {name} hashed twice");
    }

    internal byte[] Get(string name, string dir) =>
        _digests.TryGetValue(name, out var d) ? d : throw new InvalidOperationException($"{dir}: tensor {name} was never hashed");
}
