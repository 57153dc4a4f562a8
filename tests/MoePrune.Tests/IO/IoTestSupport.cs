using System.Buffers.Binary;
using System.Text;
using MoePrune.Native;
using TorchSharp;

namespace MoePrune.Tests.IO;

/// <summary>A fresh directory under /tmp, removed on dispose.</summary>
sealed class TempDir : IDisposable
{
    public string Path { get; }

    public TempDir()
    {
        TorchNative.EnsureLoaded();
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "moeprune-io-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

/// <summary>Builds safetensors bytes by hand (no MoePrune writer involved) for malformed-input tests.</summary>
static class RawSafetensors
{
    /// <summary>8-byte little-endian length + the header text as given + the data bytes.</summary>
    public static byte[] Build(string headerJson, byte[] data, ulong? declaredLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declaredLength ?? (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    public static string Write(TempDir dir, string name, string headerJson, byte[] data, ulong? declaredLength = null)
    {
        string path = dir[name];
        File.WriteAllBytes(path, Build(headerJson, data, declaredLength));
        return path;
    }

    /// <summary>(header length, header text) of a safetensors file, read by hand.</summary>
    public static (long Length, string Json) Header(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return (n, Encoding.UTF8.GetString(bytes, 8, (int)n));
    }
}

static class TensorTestExtensions
{
    /// <summary>The raw bytes of a CPU tensor, via a byte-by-byte independent path (flat uint8 reinterpretation is not available).</summary>
    public static byte[] RawBytes(this torch.Tensor t)
    {
        using var c = t.contiguous();
        return c.bytes.ToArray();
    }
}
