namespace MoePrune.Jobs;

/// <summary>
/// The model directory a command uses when it is given none: <c>models/default</c> under the working directory
/// when it exists, else under the nearest ancestor of the program's folder that has one (the repository).
/// Every command resolves it here.
/// </summary>
public static class DefaultModel
{
    public const string RelativeDir = "models/default";

    /// <summary><paramref name="given"/>, or the default model; a one-line error when none is installed.</summary>
    public static string Resolve(string? given) => Resolve(given, "", AppContext.BaseDirectory);

    /// <summary>The default model directory, or null when none is installed.</summary>
    public static string? Find() => Find("", AppContext.BaseDirectory);

    /// <param name="workingDir">Directory searched first ("" = the current directory, giving a relative path).</param>
    /// <param name="programDir">Directory whose ancestors are searched next.</param>
    public static string Resolve(string? given, string workingDir, string programDir)
    {
        if (!string.IsNullOrWhiteSpace(given)) return given;
        return Find(workingDir, programDir) ?? throw new MoePruneException(
            $"no model directory given, and no default model is installed ({RelativeDir} is neither in {Path.GetFullPath(workingDir.Length == 0 ? "." : workingDir)} nor above {programDir})");
    }

    public static string? Find(string workingDir, string programDir)
    {
        string local = Path.Combine(workingDir, RelativeDir);
        if (Directory.Exists(local)) return local;
        for (var dir = new DirectoryInfo(programDir); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, RelativeDir);
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        return null;
    }
}
