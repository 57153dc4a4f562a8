using System.Text;
using MoePrune.Data;

namespace MoePrune.Evaluation.Tasks;

/// <summary>
/// k-shot prompts. The demonstrations of a test document are drawn from the task's <c>train</c> documents, or from
/// all its other documents when it has none, never the document itself nor one with the same context; the draw
/// depends only on the seed and the document's id (<see cref="SeededRandom"/> stream <c>fewshot:{id}</c>), so it
/// does not change with <c>--limit</c> or with the other documents scored, and tasks that share ids (the built-in
/// forms of one question) get the same demonstrations. The prompt is each demonstration rendered as
/// <c>context + target_delimiter + gold</c>, joined by the test document's <c>fewshot_delimiter</c>, then that
/// delimiter and the test document's context.
/// </summary>
public static class FewShot
{
    public const long DefaultSeed = 1234;

    /// <summary>The documents demonstrations are drawn from (before excluding the test document).</summary>
    public static IReadOnlyList<TaskDocument> Pool(EvalTask task)
    {
        var train = task.Train;
        return train.Count > 0 ? train : task.Documents;
    }

    /// <summary>Throws when some scored document cannot get <paramref name="shots"/> demonstrations.</summary>
    public static void Validate(EvalTask task, int shots)
    {
        if (shots < 0) throw new MoePruneException($"--shots: {shots} must be at least 0");
        if (shots == 0) return;
        var pool = Pool(task);
        foreach (var doc in task.Test)
        {
            int available = pool.Count(d => Eligible(d, doc));
            if (available < shots)
                throw new MoePruneException(
                    $"{doc.Where}: {shots} demonstrations asked for but task {task.Name} has only {available} for this document ({(task.Train.Count > 0 ? "train split" : "other documents")})");
        }
    }

    /// <summary>The <paramref name="shots"/> demonstrations of <paramref name="doc"/>, in drawing order.</summary>
    public static IReadOnlyList<TaskDocument> Demonstrations(EvalTask task, TaskDocument doc, int shots, long seed = DefaultSeed)
    {
        if (shots == 0) return [];
        var rng = new SeededRandom(seed, $"fewshot:{doc.Id}");
        var pool = Pool(task);
        var picked = rng.Sample(pool, shots, d => Eligible(d, doc), maxTries: int.MaxValue);
        if (picked.Count < shots)
            throw new MoePruneException($"{doc.Where}: {shots} demonstrations asked for but task {task.Name} has only {picked.Count} for this document");
        return picked;
    }

    /// <summary>The full prompt: demonstrations, then the test document's context.</summary>
    public static string Prompt(TaskDocument doc, IReadOnlyList<TaskDocument> demonstrations)
    {
        if (demonstrations.Count == 0) return doc.Context;
        var sb = new StringBuilder();
        foreach (var demo in demonstrations)
            sb.Append(demo.Context).Append(demo.TargetDelimiter).Append(demo.GoldText).Append(doc.FewshotDelimiter);
        return sb.Append(doc.Context).ToString();
    }

    static bool Eligible(TaskDocument candidate, TaskDocument doc) =>
        !ReferenceEquals(candidate, doc) && candidate.Id != doc.Id && candidate.Context != doc.Context;
}
