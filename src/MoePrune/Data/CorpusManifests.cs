using System.Text.Json;

namespace MoePrune.Data;

/// <summary>
/// The two committed manifests in <c>data/</c>: <c>splits.json</c> (<see cref="SplitManifest"/>) and
/// <c>heldout_lemmas.json</c> (<see cref="HeldOutManifest"/>). They are regenerated with
/// <c>moeprune data manifests</c> and the tests check that the code reproduces them exactly.
/// </summary>
public static class CorpusManifests
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The manifest texts the code produces now (splits.json, heldout_lemmas.json).</summary>
    public static (string Splits, string HeldOut) Render(BrownCorpus corpus, BrownSplits splits, KnowledgeSet knowledge) =>
        (SplitManifest.ToJson(splits, corpus).ToJsonString(Indented) + "\n",
         HeldOutManifest.ToJson(knowledge).ToJsonString(Indented) + "\n");

    /// <summary>Writes both manifests of the installed corpora (default splits and knowledge set) into the data folder.</summary>
    public static CorpusPaths WriteDefault()
    {
        var paths = CorpusStore.EnsureInstalled();
        var (splits, heldOut) = Render(BrownCorpus.Load(), BrownSplits.Default, KnowledgeSet.Default);
        IO.AtomicFile.WriteText(paths.SplitsManifest, splits);
        IO.AtomicFile.WriteText(paths.HeldOutManifest, heldOut);
        return paths;
    }
}
