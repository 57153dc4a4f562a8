using System.Collections.Concurrent;

namespace MoePrune.IO;

/// <summary>Whether an output location is one file or one directory.</summary>
public enum OutputKind { File, Directory }

/// <summary>
/// The one rule for output locations, applied by every job BEFORE its long work: an existing output is refused
/// unless the caller allows replacing it (<c>--force</c>); a directory given for a file (or a file for a
/// directory) is refused; the parent folder must exist and be writable, which is proven by creating and
/// removing a probe file in it (the output's temporaries live there). A claimed output with replace allowed is
/// remembered, so that <see cref="AtomicDirectory.Create"/> may swap it for the new one at the end.
/// </summary>
public static class OutputPaths
{
    private static readonly ConcurrentDictionary<string, bool> Replaceable = new(StringComparer.Ordinal);

    /// <summary>Checks <paramref name="path"/> as an output of <paramref name="kind"/>; throws one line naming it.</summary>
    /// <param name="names">Spells the replace setting (<see cref="OptionNames.Force"/>) in the message.</param>
    public static void Claim(string path, OutputKind kind, bool force, OptionNames? names = null)
    {
        names ??= OptionNames.Neutral;
        if (string.IsNullOrWhiteSpace(path)) throw new MoePruneException($"{names[OptionNames.Out]}: no output path given");
        string full = Path.GetFullPath(path);
        bool isDir = Directory.Exists(full), isFile = File.Exists(full);
        if (kind == OutputKind.File && isDir) throw new MoePruneException($"{path}: is a directory (expected a file to write)");
        if (kind == OutputKind.Directory && isFile) throw new MoePruneException($"{path}: is a file (expected a directory to write)");
        bool occupied = isFile || (isDir && Directory.EnumerateFileSystemEntries(full).Any());
        if (occupied && !force)
            throw new MoePruneException($"{path}: {(isDir ? "directory exists and is not empty" : "file exists")} ({names[OptionNames.Force]} replaces it)");
        string parent = Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar)) ?? full;
        if (!Directory.Exists(parent)) throw new MoePruneException($"{path}: the folder {parent} does not exist");
        Probe(path, parent);
        if (isDir) Probe(path, full);
        if (force) Replaceable[full.TrimEnd(Path.DirectorySeparatorChar)] = true;
    }

    /// <summary>True when <paramref name="fullPath"/> was claimed with replacing allowed.</summary>
    public static bool MayReplace(string fullPath) => Replaceable.ContainsKey(fullPath.TrimEnd(Path.DirectorySeparatorChar));

    /// <summary>Creates, writes one byte to and removes a hidden file in <paramref name="folder"/>.</summary>
    private static void Probe(string userPath, string folder)
    {
        string probe = Path.Combine(folder, $".moeprune-probe-{Guid.NewGuid():N}");
        try
        {
            using (var s = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
                s.WriteByte(0);
                s.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            AtomicFile.TryDelete(probe);
            throw new OutputWriteException(userPath, $"cannot write in {folder}: {IoErrors.Reason(e)}", e);
        }
    }
}
