using System.Text.Json.Nodes;
using MoePrune.IO;

namespace MoePrune.Jobs;

/// <summary>
/// A resumable run folder: <c>run.json</c> (the settings that decide the outcome) and per finished round
/// <c>round-{k}/</c> with <c>scores.json</c> (what the round chose by), <c>lineage.json</c> (after the round),
/// <c>model/</c> (the round's model, when its weights cannot be rebuilt from the lineage, e.g. after fine-tuning)
/// and <c>record.json</c>, written last: a round folder without it is unfinished and is discarded on resume.
/// </summary>
public sealed class RunFolder
{
    public const string SettingsFile = "run.json";
    public const string RecordFile = "record.json";
    public const string ScoresFile = "scores.json";
    public const string LineageFile = "lineage.json";
    public const string ModelFolder = "model";

    private RunFolder(string dir) => Dir = dir;

    public string Dir { get; }

    /// <summary>
    /// Starts a run in <paramref name="dir"/> (which must not exist or be empty), or with <paramref name="resume"/>
    /// continues the run there, refusing one started with other <paramref name="settings"/>.
    /// </summary>
    public static RunFolder Open(string dir, JsonObject settings, bool resume)
    {
        string path = Path.Combine(dir, SettingsFile);
        if (!resume)
        {
            PruneExport.CheckOutDir(dir);
            Directory.CreateDirectory(dir);
            JsonFile.WriteAtomic(path, new JsonObject { ["settings"] = settings.DeepClone() });
            return new RunFolder(dir);
        }
        if (!File.Exists(path))
            throw new MoePruneException($"{dir}: no run to resume ({SettingsFile} not found)");
        var stored = JsonFile.ReadObject(path)["settings"] as JsonObject
            ?? throw new MoePruneException($"{path}: no settings");
        var differ = settings.Select(kv => kv.Key).Union(stored.Select(kv => kv.Key))
            .Where(k => !JsonNode.DeepEquals(settings[k], stored[k])).ToList();
        if (differ.Count > 0)
            throw new MoePruneException($"{path}: the run was started with other settings ({string.Join(", ", differ)} differ); resume it with the same settings or start a new run folder");
        var folder = new RunFolder(dir);
        foreach (var unfinished in Directory.EnumerateDirectories(dir, "round-*").Where(d => !File.Exists(Path.Combine(d, RecordFile))))
            Directory.Delete(unfinished, recursive: true);
        return folder;
    }

    public string RoundDir(int round) => Path.Combine(Dir, $"round-{round}");

    /// <summary>Rounds 1..k that finished (each with its record).</summary>
    public int CompletedRounds
    {
        get
        {
            int k = 0;
            while (File.Exists(Path.Combine(RoundDir(k + 1), RecordFile))) k++;
            return k;
        }
    }

    /// <summary>Writes a finished round; <paramref name="saveModel"/> also writes its model (built if needed).</summary>
    public void SaveRound(RoundContext round, JsonObject record, bool saveModel)
    {
        string dir = RoundDir(round.Round);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        if (round.Choice.Report is { } report) report.Save(Path.Combine(dir, ScoresFile));
        JsonFile.WriteAtomic(Path.Combine(dir, LineageFile), round.LineageAfter.ToJson());
        if (saveModel) PruneExport.WriteModel(round.Model, Path.Combine(dir, ModelFolder), copyAuxFrom: null);
        JsonFile.WriteAtomic(Path.Combine(dir, RecordFile), record);
    }

    public JsonObject LoadRecord(int round) => JsonFile.ReadObject(Path.Combine(RoundDir(round), RecordFile));

    public ExpertLineage LoadLineage(int round)
    {
        string path = Path.Combine(RoundDir(round), LineageFile);
        return ExpertLineage.FromJson(JsonFile.ReadObject(path), path);
    }

    /// <summary>The saved model of a round, or null when the round saved none.</summary>
    public string? SavedModel(int round)
    {
        string dir = Path.Combine(RoundDir(round), ModelFolder);
        return Directory.Exists(dir) ? dir : null;
    }
}
