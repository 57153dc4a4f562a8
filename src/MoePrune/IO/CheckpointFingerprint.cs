using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MoePrune.IO;

/// <summary>
/// A cheap fingerprint of a Hugging Face checkpoint that reads no tensor data: SHA-256 (lower-case hex)
/// over, in order, the bytes of <c>config.json</c>, then for each safetensors shard in index order its
/// file name (UTF-8) and a NUL, its file size (8 bytes little-endian), and its first 8 + N bytes
/// (the header length and the JSON header). Any change to the config, tensor names, dtypes, shapes or
/// offsets changes it; a change of tensor values alone does not.
/// </summary>
public static class CheckpointFingerprint
{
    public static string Compute(string dir)
    {
        using var checkpoint = CheckpointDirectory.Open(dir);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(File.ReadAllBytes(Path.Combine(dir, CheckpointDirectory.ConfigFile)));
        foreach (var shard in checkpoint.ShardFiles)
        {
            string path = Path.Combine(dir, shard);
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read);
            sha.AppendData(Encoding.UTF8.GetBytes(shard + "\0"));
            var size = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(size, fs.Length);
            sha.AppendData(size);
            var lengthBytes = new byte[8];
            fs.ReadExactly(lengthBytes);
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
            if (headerLength < 0 || headerLength > fs.Length - 8)
                throw new MoePruneException($"{path}: header length {headerLength} exceeds the file size {fs.Length}");
            var header = new byte[headerLength];
            fs.ReadExactly(header);
            sha.AppendData(lengthBytes);
            sha.AppendData(header);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
