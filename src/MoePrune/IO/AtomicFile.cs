namespace MoePrune.IO;

/// <summary>Writes a file under a temporary sibling name and renames it into place only when complete.</summary>
static class AtomicFile
{
    /// <summary>A unique temporary name next to <paramref name="path"/> (same directory, so the rename is atomic).</summary>
    public static string TempSibling(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full)!;
        return System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
    }

    /// <summary>Runs <paramref name="write"/> on a stream to a temporary file, flushes it, and renames it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<FileStream> write)
    {
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
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
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
