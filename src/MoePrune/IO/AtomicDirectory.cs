namespace MoePrune.IO;

/// <summary>
/// Builds a directory's content in a temporary sibling ("staging") directory and puts it in place only when
/// complete; on failure the staging directory is removed and the target is left as it was.
/// </summary>
public static class AtomicDirectory
{
    /// <summary>
    /// Creates <paramref name="target"/>, which must not exist or be empty: <paramref name="fill"/> writes into the
    /// staging directory it is given, which is then renamed to <paramref name="target"/> (one atomic rename).
    /// </summary>
    public static void Create(string target, Action<string> fill)
    {
        string full = Path.GetFullPath(target);
        if (File.Exists(full))
            throw new MoePruneException($"{target}: output path is an existing file");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new MoePruneException($"{target}: output directory exists and is not empty");
        string staging = Stage(full, fill);
        try
        {
            if (Directory.Exists(full)) Directory.Delete(full);             // empty, checked above
            Directory.Move(staging, full);
        }
        catch
        {
            TryDeleteTree(staging);
            throw;
        }
    }

    /// <summary>
    /// Writes files into <paramref name="target"/> (created when missing; other files in it are kept):
    /// <paramref name="fill"/> writes them into a staging directory, then each is moved over the same-named
    /// file of the target. Each file is replaced atomically; the set is not (a crash between moves leaves some new, some old).
    /// </summary>
    public static void WriteFilesInto(string target, Action<string> fill)
    {
        string full = Path.GetFullPath(target);
        string staging = Stage(full, fill);
        try
        {
            Directory.CreateDirectory(full);
            foreach (var file in Directory.GetFiles(staging))
                File.Move(file, Path.Combine(full, Path.GetFileName(file)), overwrite: true);
        }
        finally
        {
            TryDeleteTree(staging);
        }
    }

    /// <summary>A fresh staging directory next to <paramref name="fullTarget"/>, filled by <paramref name="fill"/>.</summary>
    private static string Stage(string fullTarget, Action<string> fill)
    {
        string parent = Path.GetDirectoryName(fullTarget)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(fullTarget)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            fill(staging);
            return staging;
        }
        catch
        {
            TryDeleteTree(staging);
            throw;
        }
    }

    private static void TryDeleteTree(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
