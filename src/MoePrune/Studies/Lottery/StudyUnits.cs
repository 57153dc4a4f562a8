using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.IO;

namespace MoePrune.Studies.Lottery;

/// <summary>One resumable piece of a study: its name, its part (a … f) and what it computes (a JSON record).</summary>
public sealed record StudyUnit(string Name, char Part, Func<JsonObject> Run);

/// <summary>
/// Runs units in order, each at most once: a finished unit's record is <c>units/NAME.json</c> (written atomically, with
/// its wall time and the load average around it), so a rerun skips it; a unit that fails (any exception but a
/// cancellation) is logged and left for the next run (its run folder, if any, lets it resume) while the others go on. <see cref="AfterEach"/> runs after every finished unit (e.g. to
/// render the study so far).
/// </summary>
public sealed class StudyUnits(string workDir, Action<string>? log)
{
    public string UnitsDir { get; } = Path.Combine(workDir, "units");
    public Action? AfterEach { get; init; }

    public string PathOf(string name) => Path.Combine(UnitsDir, name + ".json");

    public JsonObject? Load(string name) => File.Exists(PathOf(name)) ? JsonFile.ReadObject(PathOf(name)) : null;

    public bool IsDone(string name) => File.Exists(PathOf(name));

    /// <summary>Runs the units not done yet; returns the names that failed.</summary>
    public List<string> RunAll(IEnumerable<StudyUnit> units)
    {
        Directory.CreateDirectory(UnitsDir);
        var failed = new List<string>();
        foreach (var unit in units)
        {
            if (IsDone(unit.Name)) continue;
            string before = LoadAverage();
            log?.Invoke($"{DateTime.UtcNow:HH:mm:ss} {unit.Name}: start (load {before})");
            var clock = Stopwatch.StartNew();
            JsonObject record;
            try { record = unit.Run(); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log?.Invoke($"{DateTime.UtcNow:HH:mm:ss} {unit.Name}: FAILED: {(e is MoePruneException ? e.Message : e.ToString())}");
                failed.Add(unit.Name);
                continue;
            }
            record["unit"] = new JsonObject
            {
                ["name"] = unit.Name, ["part"] = unit.Part.ToString(), ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
                ["load_before"] = before, ["load_after"] = LoadAverage(), ["finished_utc"] = DateTime.UtcNow.ToString("o"),
            };
            JsonFile.WriteAtomic(PathOf(unit.Name), record);
            log?.Invoke($"{DateTime.UtcNow:HH:mm:ss} {unit.Name}: done in {clock.Elapsed.TotalSeconds:F0} s (load {LoadAverage()})");
            AfterEach?.Invoke();
        }
        return failed;
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))
        : "unknown";
}
