using System.Text;

namespace MoePrune.IO;

/// <summary>
/// Writes a file under a temporary sibling name and renames it into place only when complete: readers see
/// the old file or the whole new one, and a failure leaves neither the new file nor the temporary one.
/// The one place in MoePrune that does this (JSON, text, safetensors, patched binaries). A file-system failure
/// becomes an <see cref="OutputWriteException"/> naming <c>path</c>, never the temporary name.
/// </summary>
public static class AtomicFile
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>A unique temporary name next to <paramref name="path"/> (same directory, so the rename is atomic).</summary>
    public static string TempSibling(string path)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        return Path.Combine(dir, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
    }

    /// <summary>
    /// Runs <paramref name="write"/> on a stream to a temporary file, flushes it to disk, sets
    /// <paramref name="mode"/> (Unix permissions) when given, and renames it to <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, Action<FileStream> write, UnixFileMode? mode = null)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir))
            throw new MoePruneException($"{path}: the directory {dir} does not exist");
        string temp = TempSibling(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            if (mode is { } m && !OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, m);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (IoErrors.IsIo(e) || e is OutputWriteException)
        {
            TryDelete(temp);
            throw IoErrors.Wrap(path, e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/>.</summary>
    public static void WriteBytes(string path, byte[] bytes, UnixFileMode? mode = null) =>
        Write(path, stream => stream.Write(bytes), mode);

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteText(string path, string text) => WriteLines(path, [text], newline: "");

    /// <summary>Writes each line followed by <paramref name="newline"/>, UTF-8 without a byte-order mark.</summary>
    public static void WriteLines(string path, IEnumerable<string> lines, string newline = "\n") => Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, Utf8NoBom, bufferSize: 1 << 16, leaveOpen: true);
        foreach (var line in lines)
        {
            writer.Write(line);
            writer.Write(newline);
        }
    });

    internal static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
