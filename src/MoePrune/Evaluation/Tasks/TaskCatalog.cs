using MoePrune.Data.Tasks;

namespace MoePrune.Evaluation.Tasks;

/// <summary>
/// Turns <c>--tasks</c> entries into tasks: an existing file (or any entry ending in <c>.jsonl</c>) is a task file;
/// otherwise a built-in name (<see cref="BuiltinTasks"/>), whose JSONL is generated in memory and parsed by the same
/// <see cref="TaskFile.Parse"/> as a file; <c>builtin</c> stands for every built-in task.
/// </summary>
public static class TaskCatalog
{
    public const string AllBuiltins = "builtin";

    public static IReadOnlyList<EvalTask> Load(IReadOnlyList<string> specs)
    {
        if (specs.Count == 0) throw new MoePruneException("--tasks: no task given");
        var expanded = specs.SelectMany(s => s == AllBuiltins ? BuiltinTasks.All.Select(t => t.Name) : [s]).ToList();
        foreach (string spec in expanded)
            if (!IsFile(spec) && !BuiltinTasks.IsBuiltin(spec))
                throw new MoePruneException(
                    $"--tasks: unknown task '{spec}': not a file and not a built-in task ({string.Join(", ", BuiltinTasks.All.Select(t => t.Name))}, or {AllBuiltins} for all)");
        var builtin = BuiltinTasks.Lines(expanded.Where(s => !IsFile(s)).Distinct());
        var tasks = expanded.Select(s => IsFile(s) ? TaskFile.Read(s) : TaskFile.Parse(s, $"builtin:{s}", builtin[s])).ToList();
        var duplicate = tasks.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new MoePruneException($"--tasks: two tasks are named '{duplicate.Key}' ({string.Join(", ", duplicate.Select(t => t.Source))})");
        return tasks;
    }

    static bool IsFile(string spec) => File.Exists(spec) || spec.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || spec.Contains('/');
}
