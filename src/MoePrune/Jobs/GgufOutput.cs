using MoePrune.IO.Gguf;
using MoePrune.Models;

namespace MoePrune.Jobs;

/// <summary>
/// The GGUF file a job may write beside its checkpoint (<c>prune --gguf</c>, <c>merge --gguf</c>): claimed with the
/// output folder before any work, checked against the result's config before the long work, and exported from the
/// written checkpoint at the end; when that export fails the checkpoint folder is removed again (all or nothing).
/// </summary>
public static class GgufOutput
{
    /// <summary>Claims <paramref name="file"/> as an output (<see cref="IO.OutputPaths.Claim"/>); nothing when null.</summary>
    public static void Claim(string? file, bool force, OptionNames? names)
    {
        if (file is not null) IO.OutputPaths.Claim(file, IO.OutputKind.File, force, names);
    }

    /// <summary>Runs every GGUF refusal for the result's config and the source's tokenizer, writing nothing.</summary>
    /// <param name="source">Names the file that set the result's counts (a keep-map) in the message; the config's path when null.</param>
    public static void Check(MoeConfig result, string tokenizerDir, string? source = null)
    {
        if (source is not null) GgufCompatibility.Check(result, GgufArchitecture.For(result.Family), source);
        GgufExporter.Check(result, tokenizerDir);
    }

    /// <summary>Exports the written checkpoint <paramref name="outDir"/> to <paramref name="file"/>; nothing when null.</summary>
    public static void Write(string outDir, string? file)
    {
        if (file is null) return;
        try
        {
            GgufExporter.ExportCheckpoint(outDir, file);
        }
        catch
        {
            Directory.Delete(outDir, recursive: true);                                         // all or nothing
            throw;
        }
    }
}
