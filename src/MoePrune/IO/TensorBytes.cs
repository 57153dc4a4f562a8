using System.Buffers;
using System.IO.Hashing;
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

    /// <summary>Bytes read per call when hashing: each piece is hashed on another thread while the next one is read.</summary>
    public const int HashPieceBytes = 1 << 20;

    delegate void ChunkAction(Span<byte> chunk, long byteOffset);

    /// <summary>
    /// Fills the contiguous CPU <paramref name="tensor"/> with the bytes at <paramref name="fileOffset"/>;
    /// appends them to <paramref name="hash"/> (in file order) when given.
    /// </summary>
    public static void ReadFromFile(SafeFileHandle file, long fileOffset, torch.Tensor tensor, string path,
                                    long chunkBytes = DefaultChunkBytes, XxHash128? hash = null)
    {
        ForEachChunk(tensor, chunkBytes, (chunk, byteOffset) => ReadSpan(file, fileOffset + byteOffset, chunk, path, hash));
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with the bytes at <paramref name="fileOffset"/>. With a
    /// <paramref name="hash"/>, the bytes are appended to it in order, each piece hashed on a worker thread while
    /// the next piece is read, so hashing costs little wall time when a second core is free.
    /// </summary>
    public static unsafe void ReadSpan(SafeFileHandle file, long fileOffset, Span<byte> destination, string path, XxHash128? hash = null)
    {
        if (hash is null)
        {
            ReadExactly(file, fileOffset, destination, path);
            return;
        }
        var h = hash;
        fixed (byte* start = destination)                                      // pinned (a no-op for native tensor memory)
        {
            nint begin = (nint)start;
            Task? hashing = null;
            try
            {
                for (int done = 0; done < destination.Length;)
                {
                    int n = Math.Min(HashPieceBytes, destination.Length - done);
                    ReadExactly(file, fileOffset + done, destination.Slice(done, n), path);
                    hashing?.Wait();                                           // keeps the pieces in order
                    hashing = null;
                    if (done + n == destination.Length)
                        h.Append(destination.Slice(done, n));                  // the last (or only) piece: nothing left to overlap
                    else
                    {
                        nint piece = begin + done;
                        hashing = Task.Run(() => h.Append(new ReadOnlySpan<byte>((void*)piece, n)));
                    }
                    done += n;
                }
            }
            catch
            {
                try { hashing?.Wait(); }                                       // never leave a task reading this memory
                catch (AggregateException) { }
                throw;
            }
        }
    }

    /// <summary>Copies <paramref name="length"/> bytes at <paramref name="fileOffset"/> to <paramref name="destination"/> (or only hashes them when it is null).</summary>
    public static void CopyFileRange(SafeFileHandle file, long fileOffset, long length, Stream? destination, string path, XxHash128? hash = null)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 22);
        try
        {
            for (long done = 0; done < length;)
            {
                var piece = buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - done));
                ReadSpan(file, fileOffset + done, piece, path, hash);
                destination?.Write(piece);
                done += piece.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    static void ReadExactly(SafeFileHandle file, long at, Span<byte> span, string path)
    {
        while (span.Length > 0)
        {
            int n = RandomAccess.Read(file, span, at);
            if (n == 0)
                throw new MoePruneException($"{path}: unexpected end of file at byte {at} (file truncated while open?)");
            span = span[n..];
            at += n;
        }
    }

    /// <summary>Writes the bytes of the contiguous CPU <paramref name="tensor"/> at <paramref name="fileOffset"/> of <paramref name="file"/>.</summary>
    public static void WriteToFile(SafeFileHandle file, long fileOffset, torch.Tensor tensor, long chunkBytes = DefaultChunkBytes)
    {
        ForEachChunk(tensor, chunkBytes, (chunk, byteOffset) => RandomAccess.Write(file, chunk, fileOffset + byteOffset));
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
