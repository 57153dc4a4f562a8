using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// Writes safetensors files the way Hugging Face loaders expect them: <c>__metadata__</c> with
/// <c>"format": "pt"</c>, the header padded with spaces to a multiple of 8 bytes, tensor data packed
/// back to back (no holes) in the order given. The file appears under its name only when complete.
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
        var list = tensors.ToList();
        var header = BuildHeader(list, metadata, path);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, tensor) in list)
                WriteData(stream, tensor);
        });
    }

    /// <summary>Byte length of a tensor as stored (numel × element size).</summary>
    public static long ByteLength(torch.Tensor tensor) => tensor.NumberOfElements * tensor.ElementSize;

    /// <summary>The header JSON, UTF-8, padded with spaces so that 8 + its length is a multiple of 8.</summary>
    static byte[] BuildHeader(List<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata, string path)
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
            foreach (var (name, tensor) in tensors)
            {
                if (name == "__metadata__" || !names.Add(name))
                    throw new MoePruneException($"{path}: duplicate or reserved tensor name \"{name}\"");
                if (!SafeDtypes.TryFromTorch(tensor.dtype, out var dtype))
                    throw new MoePruneException(
                        $"{path}: tensor \"{name}\" has dtype {tensor.dtype}, which cannot be written to safetensors (supported: {string.Join(", ", Enum.GetNames<SafeDtype>())})");
                long bytes = ByteLength(tensor);
                json.WriteStartObject(name);
                json.WriteString("dtype", SafeDtypes.Name(dtype));
                json.WriteStartArray("shape");
                foreach (long d in tensor.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        long padded = (buffer.Length + 7) / 8 * 8;
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    static void WriteData(Stream stream, torch.Tensor tensor)
    {
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            TensorBytes.WriteToStream(stream, tensor);
            return;
        }
        using var cpu = tensor.detach().cpu().contiguous();              // same shape and dtype, CPU, row-major
        TensorBytes.WriteToStream(stream, cpu);
    }
}
