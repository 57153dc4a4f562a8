namespace MoePrune.Tests;

/// <summary>The shipped <c>models/default</c> folder, found above the test binaries.</summary>
public static class DefaultModelFiles
{
    public static string Directory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default");
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        throw new InvalidOperationException("models/default not found above " + AppContext.BaseDirectory);
    }

    public static string TokenizerJson => Path.Combine(Directory(), "tokenizer.json");
}
