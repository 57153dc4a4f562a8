using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// Writes safetensors files the way Hugging Face loaders expect them: <c>__metadata__</c> with
/// <c>"format": "pt"</c>, the header padded with spaces to a multiple of 8 bytes, tensor data packed
/// back to back (no holes) in the order given. The file appears under its name only when complete.
/// Tensors come as <see cref="OutputTensor"/>s (torch tensors, managed arrays, or bytes copied from a source).
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (any device, any layout; dtypes of <see cref="SafeDtype"/>) to
    /// <paramref name="path"/>. <paramref name="metadata"/> entries are added to <c>__metadata__</c> after <c>format</c>.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
                             IReadOnlyDictionary<string, string>? metadata = null)
    {
        var outputs = new List<OutputTensor>();
        foreach (var (name, tensor) in tensors)
        {
            try
            {
                outputs.Add(OutputTensor.FromTensor(name, tensor));
            }
            catch (MoePruneException e)
            {
                throw new MoePruneException($"{path}: {e.Message}", inner: e);
            }
        }
        WriteOutputs(path, outputs, metadata);
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> in order, pulling each one's bytes while writing (the caller keeps
    /// ownership of the outputs). Use <see cref="OutputTensor.FromArray{T}"/> for small named arrays (statistics).
    /// </summary>
    public static void WriteOutputs(string path, IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = BuildHeader(tensors, metadata, path);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var tensor in tensors)
                tensor.WriteTo(stream);
        });
    }

    /// <summary>Byte length of a tensor as stored (numel × element size).</summary>
    public static long ByteLength(torch.Tensor tensor) => tensor.NumberOfElements * tensor.ElementSize;

    /// <summary>The header JSON, UTF-8, padded with spaces so that 8 + its length is a multiple of 8.</summary>
    static byte[] BuildHeader(IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string>? metadata, string path)
    {
        var names = new HashSet<string>();
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
                if (key != "format") json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (tensor.Name == "__metadata__" || !names.Add(tensor.Name))
                    throw new MoePruneException($"{path}: duplicate or reserved tensor name \"{tensor.Name}\"");
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", SafeDtypes.Name(tensor.Dtype));
                json.WriteStartArray("shape");
                foreach (long d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.Bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.Bytes;
            }
            json.WriteEndObject();
        }
        long padded = (buffer.Length + 7) / 8 * 8;
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
