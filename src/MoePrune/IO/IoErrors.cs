using System.Text.RegularExpressions;

namespace MoePrune.IO;

/// <summary>
/// A file-system failure while writing an output, named by the user's path (not the temporary one the
/// writer used): <c>out/: no space left on device</c>. Writers that stage their output (<see cref="AtomicFile"/>,
/// <see cref="AtomicDirectory"/>) raise it after removing what they staged; an outer writer relabels an inner
/// one with its own target.
/// </summary>
public sealed class OutputWriteException(string path, string reason, Exception? inner = null)
    : MoePruneException($"{path}: {reason}", inner: inner)
{
    public string Path { get; } = path;
    public string Reason { get; } = reason;
}

/// <summary>Turns .NET I/O exceptions into one-line reasons a user can act on.</summary>
public static partial class IoErrors
{
    /// <summary>True for the exceptions a file-system operation raises on a failure of the file system itself.</summary>
    public static bool IsIo(Exception e) => e is IOException or UnauthorizedAccessException;

    /// <summary>An <see cref="OutputWriteException"/> naming <paramref name="userPath"/> for <paramref name="e"/>.</summary>
    public static OutputWriteException Wrap(string userPath, Exception e) =>
        new(userPath, e is OutputWriteException w ? w.Reason : Reason(e), e);

    /// <summary>
    /// What went wrong, without the path: the errno's text for I/O errors the operating system reports
    /// ("no space left on device", "permission denied", "is a directory"), else the message with quoted paths removed.
    /// </summary>
    public static string Reason(Exception e)
    {
        if (e is UnauthorizedAccessException) return "permission denied";
        if (e is FileNotFoundException or DirectoryNotFoundException) return "no such file or directory";
        string? known = e.HResult switch
        {
            13 => "permission denied",                // EACCES
            17 => "already exists",                   // EEXIST
            20 => "not a directory",                  // ENOTDIR
            21 => "is a directory",                   // EISDIR
            27 => "file too large",                   // EFBIG
            28 => "no space left on device",          // ENOSPC
            30 => "read-only file system",            // EROFS
            122 => "disk quota exceeded",             // EDQUOT
            _ => null,
        };
        if (known is not null) return known;
        string message = QuotedPath().Replace(e.Message, "").Trim().TrimEnd('.', ':', ' ');
        return message.Length == 0 ? e.GetType().Name : char.ToLowerInvariant(message[0]) + message[1..];
    }

    /// <summary>The first quoted path of a .NET I/O message ("Access to the path '/x/y' is denied."), if any.</summary>
    public static string? PathIn(string message) => QuotedPath().Match(message) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>A user-facing error for an I/O exception that no writer translated: the path it names (hidden temporaries mapped to their target) and the reason.</summary>
    public static MoePruneException ForUser(Exception e)
    {
        string? path = PathIn(e.Message);
        string reason = Reason(e);
        return path is null ? new MoePruneException(reason, inner: e) : new MoePruneException($"{Visible(path)}: {reason}", inner: e);
    }

    /// <summary>True when <paramref name="e"/> names <paramref name="userPath"/> or one of its temporaries (or names no path).</summary>
    public static bool Concerns(Exception e, string userPath) =>
        PathIn(e.Message) is not { } p || Path.GetFullPath(Visible(p)) == Path.GetFullPath(userPath);

    /// <summary>"/out/.model.tmp-0123…/part-00000.safetensors" → "/out/model": the output a temporary name stands for.</summary>
    public static string Visible(string path)
    {
        var m = TempName().Match(path);
        return m.Success ? path[..m.Index] + m.Groups[1].Value : path;
    }

    [GeneratedRegex(@"\s*:?\s*'([^']*)'")]
    private static partial Regex QuotedPath();

    [GeneratedRegex(@"\.([^/]+?)\.tmp-[0-9a-f]{32}.*$")]
    private static partial Regex TempName();
}
