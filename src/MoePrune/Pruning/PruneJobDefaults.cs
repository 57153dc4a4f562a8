namespace MoePrune.Pruning;

/// <summary>Defaults shared by the <c>score</c> and <c>prune</c> commands.</summary>
public static class PruneJobDefaults
{
    /// <summary>Model directory used when a command is given none (relative to the working directory).</summary>
    public const string DefaultModelDir = "models/default";

    /// <summary>The given model directory, or <see cref="DefaultModelDir"/> when it is installed.</summary>
    public static string ResolveModelDir(string? given)
    {
        if (!string.IsNullOrWhiteSpace(given)) return given;
        if (Directory.Exists(DefaultModelDir)) return DefaultModelDir;
        throw new MoePruneException(
            $"<model-dir>: none given, and no default model is installed yet ({Path.GetFullPath(DefaultModelDir)} does not exist)");
    }
}
