using System.Text;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace MoePrune.IO.Gguf;

/// <summary>A tensor of a GGUF file: its name, shape in PyTorch order (outermost first) and ggml type.</summary>
public sealed record GgufTensorInfo(string Name, long[] Shape, GgmlType Type)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
    public long Bytes => Elements * GgufTypes.ElementSize(Type);
}

/// <summary>
/// Writes a GGUF v3 file: the header (magic <c>GGUF</c>, version 3, tensor and key counts), the metadata,
/// the tensor infos (name, dims innermost first as ggml's <c>ne</c>, type, offset), padding to the
/// 32-byte alignment, then the tensor data, each tensor starting on the alignment. All offsets are known
/// from the infos, so the header is written first and the data may then arrive in any order and in pieces
/// (<see cref="Write"/> places them by position): a per-expert stream fills stacked <c>[E, I, H]</c> tensors
/// slice by slice. The file is written under a temporary sibling name and renamed only by
/// <see cref="Complete"/>, after checking that every byte of every tensor was written exactly once.
/// </summary>
public sealed class GgufWriter : IDisposable
{
    public const uint Magic = 0x46554747;   // "GGUF" little-endian
    public const uint Version = 3;
    public const int Alignment = 32;        // general.alignment default; not written

    private readonly string _path, _temp;
    private readonly SafeFileHandle _file;
    private readonly Dictionary<string, (GgufTensorInfo Info, long Offset)> _tensors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(long Start, long End)>> _written = new(StringComparer.Ordinal);
    private bool _completed;

    private GgufWriter(string path, GgufMetadata metadata, IReadOnlyList<GgufTensorInfo> tensors)
    {
        _path = path;
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new MoePruneException($"{path}: the directory {dir} does not exist");
        if (Directory.Exists(path)) throw new MoePruneException($"{path}: output path is an existing directory");
        _temp = AtomicFile.TempSibling(path);
        byte[] header = Header(metadata, tensors, out var offsets, out long dataStart, out long total);
        for (int i = 0; i < tensors.Count; i++)
        {
            if (!_tensors.TryAdd(tensors[i].Name, (tensors[i], dataStart + offsets[i])))
                throw new InvalidOperationException($"GGUF tensor {tensors[i].Name} listed twice");
            _written[tensors[i].Name] = [];
        }
        _file = File.OpenHandle(_temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.None, total);
        try
        {
            RandomAccess.SetLength(_file, total);                                         // padding reads as zeros
            RandomAccess.Write(_file, header, 0);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Creates the temporary file and writes the header, metadata and tensor infos.</summary>
    public static GgufWriter Create(string path, GgufMetadata metadata, IReadOnlyList<GgufTensorInfo> tensors) =>
        new(path, metadata, tensors);

    /// <summary>
    /// Writes <paramref name="values"/> (converted to the tensor's type, flattened) into tensor
    /// <paramref name="name"/> starting at element <paramref name="elementOffset"/> of its row-major data.
    /// </summary>
    public void Write(string name, long elementOffset, Tensor values)
    {
        if (!_tensors.TryGetValue(name, out var t)) throw new InvalidOperationException($"GGUF tensor {name} is not in the header");
        using var scope = NewDisposeScope();
        var flat = values.to(GgufTypes.TorchType(t.Info.Type)).contiguous().reshape(-1);     // (n) file type
        long n = flat.shape[0], size = GgufTypes.ElementSize(t.Info.Type);
        if (elementOffset < 0 || elementOffset + n > t.Info.Elements)
            throw new InvalidOperationException($"GGUF tensor {name}: elements [{elementOffset}, {elementOffset + n}) outside its {t.Info.Elements}");
        const long chunk = 1L << 26;                                                        // elements per span
        for (long start = 0; start < n; start += chunk)
        {
            using var piece = flat.narrow(0, start, Math.Min(chunk, n - start));
            RandomAccess.Write(_file, piece.bytes, t.Offset + (elementOffset + start) * size);
        }
        _written[name].Add((elementOffset, elementOffset + n));
    }

    /// <summary>Checks that every tensor was written completely and exactly once, then renames the file into place.</summary>
    public void Complete()
    {
        var problems = new List<string>();
        foreach (var (name, (info, _)) in _tensors)
        {
            var parts = _written[name].OrderBy(p => p.Start).ToList();
            long covered = 0, end = 0;
            foreach (var (s, e) in parts)
            {
                if (s < end) { problems.Add($"{name} written twice at element {s}"); break; }
                covered += e - s;
                end = e;
            }
            if (covered != info.Elements) problems.Add($"{name} has {covered} of {info.Elements} elements");
        }
        if (problems.Count > 0)
            throw new InvalidOperationException($"GGUF {_path}: incomplete tensor data: {MoePruneException.Summarize(problems, 3)}");
        _file.Dispose();
        File.Move(_temp, _path, overwrite: true);
        _completed = true;
    }

    public void Dispose()
    {
        _file.Dispose();
        if (!_completed)
            try { File.Delete(_temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static byte[] Header(GgufMetadata metadata, IReadOnlyList<GgufTensorInfo> tensors,
                                 out long[] offsets, out long dataStart, out long total)
    {
        offsets = new long[tensors.Count];
        long offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            offsets[i] = offset;
            offset = Align(offset + tensors[i].Bytes);
        }
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write((ulong)tensors.Count);
            w.Write((ulong)metadata.Entries.Count);
            metadata.WriteTo(w);
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                GgufMetadata.WriteString(w, t.Name);
                w.Write((uint)t.Shape.Length);
                foreach (long d in t.Shape.Reverse()) w.Write((ulong)d);                   // ggml ne: innermost first
                w.Write((uint)t.Type);
                w.Write((ulong)offsets[i]);
            }
        }
        dataStart = Align(stream.Length);
        stream.SetLength(dataStart);                                                        // zero padding
        total = dataStart + offset;
        return stream.ToArray();
    }

    private static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;
}
