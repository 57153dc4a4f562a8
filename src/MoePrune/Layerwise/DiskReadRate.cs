using System.Diagnostics;
using System.IO.Hashing;
using MoePrune.IO;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>
/// The sequential read rate of the disk holding a checkpoint, measured the way layer-by-layer runs read tensors:
/// positional reads into native tensor memory, each byte hashed as it is read (the fingerprint). It reads the last
/// <see cref="DefaultBytes"/> of the largest shard (the last layers' tensors, so the pages it brings into the cache
/// are only reused at the end of a run). On a warm page cache this is the cache's rate.
/// </summary>
public static class DiskReadRate
{
    public const long DefaultBytes = 256L << 20;
    private const long PieceBytes = 64L << 20;

    /// <summary>MB/s (10⁶ bytes) of reading up to <paramref name="maxBytes"/> from the largest of <paramref name="shardFiles"/> in <paramref name="dir"/>.</summary>
    public static double Measure(string dir, IReadOnlyList<string> shardFiles, long maxBytes = DefaultBytes)
    {
        var path = shardFiles.Select(f => Path.Combine(dir, f)).MaxBy(f => new FileInfo(f).Length)!;
        long length = new FileInfo(path).Length;
        long bytes = Math.Min(length, maxBytes);
        if (bytes == 0) return 0;
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var buffer = empty(Math.Min(bytes, PieceBytes), ScalarType.Byte, CPU);              // (P) bytes
        var hash = new XxHash128();
        var clock = Stopwatch.StartNew();
        for (long done = 0; done < bytes;)
        {
            long n = Math.Min(PieceBytes, bytes - done);
            using var piece = buffer.narrow(0, 0, n);                                            // (n) view
            TensorBytes.ReadFromFile(handle, length - bytes + done, piece, path, hash: hash);
            done += n;
        }
        hash.GetHashAndReset();
        double seconds = clock.Elapsed.TotalSeconds;
        return seconds > 0 ? bytes / 1e6 / seconds : 0;
    }
}
