using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// Moves raw tensor bytes between files and a tensor's native memory without a managed copy of
/// the tensor: the tensor is walked in chunks (flat element ranges) whose <c>bytes</c> span points
/// straight into libtorch's buffer, so tensors above 2 GB work and no shard is ever held in managed memory.
/// </summary>
static class TensorBytes
{
    /// <summary>Bytes per chunk; below int.MaxValue so each chunk's span is addressable.</summary>
    public const long DefaultChunkBytes = 1L << 28;

    delegate void ChunkAction(Span<byte> chunk, long byteOffset);

    /// <summary>Fills the contiguous CPU <paramref name="tensor"/> with the bytes at <paramref name="fileOffset"/>.</summary>
    public static void ReadFromFile(SafeFileHandle file, long fileOffset, torch.Tensor tensor, string path,
                                    long chunkBytes = DefaultChunkBytes)
    {
        ForEachChunk(tensor, chunkBytes, (chunk, byteOffset) =>
        {
            long at = fileOffset + byteOffset;
            while (chunk.Length > 0)
            {
                int n = RandomAccess.Read(file, chunk, at);
                if (n == 0)
                    throw new MoePruneException($"{path}: unexpected end of file at byte {at} (file truncated while open?)");
                chunk = chunk[n..];
                at += n;
            }
        });
    }

    /// <summary>Appends the bytes of the contiguous CPU <paramref name="tensor"/> to <paramref name="stream"/>.</summary>
    public static void WriteToStream(Stream stream, torch.Tensor tensor, long chunkBytes = DefaultChunkBytes)
    {
        ForEachChunk(tensor, chunkBytes, (chunk, _) => stream.Write(chunk));
    }

    /// <summary>Copies the bytes of a contiguous CPU tensor into a new array (small tensors, tests).</summary>
    public static byte[] ToArray(torch.Tensor tensor)
    {
        var result = new byte[checked(tensor.NumberOfElements * tensor.ElementSize)];
        ForEachChunk(tensor, DefaultChunkBytes, (chunk, byteOffset) => chunk.CopyTo(result.AsSpan((int)byteOffset)));
        return result;
    }

    static void ForEachChunk(torch.Tensor tensor, long chunkBytes, ChunkAction action)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new ArgumentException("raw byte access needs a contiguous CPU tensor", nameof(tensor));
        long elements = tensor.NumberOfElements;
        if (elements == 0) return;
        long elementSize = tensor.ElementSize;
        if (elements * elementSize <= chunkBytes)
        {
            action(tensor.bytes, 0);
            return;
        }
        long perChunk = Math.Max(1, chunkBytes / elementSize);
        using var flat = tensor.view(-1);                                       // (N,) alias of the same storage
        for (long start = 0; start < elements; start += perChunk)
        {
            using var part = flat.narrow(0, start, Math.Min(perChunk, elements - start)); // (n,) view; bytes start at its offset
            action(part.bytes, start * elementSize);
        }
    }
}
