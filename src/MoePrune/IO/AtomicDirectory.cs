namespace MoePrune.IO;

/// <summary>
/// Builds a directory's content in a temporary sibling ("staging") directory and puts it in place only when
/// complete; on failure the staging directory is removed and the target is left as it was.
/// </summary>
public static class AtomicDirectory
{
    /// <summary>
    /// Creates <paramref name="target"/>, which must not exist or be empty unless it was claimed with replacing
    /// allowed (<see cref="OutputPaths.Claim"/>): <paramref name="fill"/> writes into the staging directory it is
    /// given, which is then renamed to <paramref name="target"/> (one atomic rename; a replaced directory is moved
    /// aside first and deleted after). A file-system failure becomes an <see cref="OutputWriteException"/> naming
    /// <paramref name="target"/>, with nothing of the new output left behind.
    /// </summary>
    public static void Create(string target, Action<string> fill)
    {
        string full = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(full))
            throw new MoePruneException($"{target}: output path is an existing file");
        bool replace = Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any();
        if (replace && !OutputPaths.MayReplace(full))
            throw new MoePruneException($"{target}: output directory exists and is not empty");
        string staging = Stage(target, full, fill);
        string? old = null;
        try
        {
            if (replace)
            {
                old = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.old-{Guid.NewGuid():N}");
                Directory.Move(full, old);
            }
            else if (Directory.Exists(full)) Directory.Delete(full);             // empty, checked above
            Directory.Move(staging, full);
        }
        catch (Exception e)
        {
            TryDeleteTree(staging);
            if (old is not null && !Directory.Exists(full)) TryMove(old, full);
            if (IoErrors.IsIo(e)) throw IoErrors.Wrap(target, e);
            throw;
        }
        if (old is not null) TryDeleteTree(old);
    }

    /// <summary>
    /// Writes files into <paramref name="target"/> (created when missing; other files in it are kept):
    /// <paramref name="fill"/> writes them into a staging directory, then each is moved over the same-named
    /// file of the target. Each file is replaced atomically; the set is not (a crash between moves leaves some new, some old).
    /// </summary>
    public static void WriteFilesInto(string target, Action<string> fill)
    {
        string full = Path.GetFullPath(target);
        string staging = Stage(target, full, fill);
        try
        {
            Directory.CreateDirectory(full);
            foreach (var file in Directory.GetFiles(staging))
                File.Move(file, Path.Combine(full, Path.GetFileName(file)), overwrite: true);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw IoErrors.Wrap(target, e);
        }
        finally
        {
            TryDeleteTree(staging);
        }
    }

    /// <summary>A fresh staging directory next to <paramref name="fullTarget"/>, filled by <paramref name="fill"/>.</summary>
    private static string Stage(string target, string fullTarget, Action<string> fill)
    {
        string parent = Path.GetDirectoryName(fullTarget)!;
        string staging = Path.Combine(parent, $".{Path.GetFileName(fullTarget)}.tmp-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(parent);
            Directory.CreateDirectory(staging);
            fill(staging);
            return staging;
        }
        catch (Exception e)
        {
            TryDeleteTree(staging);
            if (IoErrors.IsIo(e) || e is OutputWriteException) throw IoErrors.Wrap(target, e);
            throw;
        }
    }

    private static void TryMove(string from, string to)
    {
        try { Directory.Move(from, to); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void TryDeleteTree(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
