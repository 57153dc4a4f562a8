using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MoePrune.Reports;

/// <summary>
/// The merge study's tables from its <c>results.json</c> (<see cref="Studies.MergeStudyResults"/>): the setup, the parent's
/// row, and per expert count one table with a row per variant sorted by mean perplexity (mean ± sd over calibration
/// seeds; data-free rows have one value), KL to the parent, top-1 agreement and each task's accuracy (± the mean
/// standard error of one evaluation); then the best merge and the best drop per count, and the learned merges'
/// held-out reconstruction errors.
/// </summary>
public static class MergeStudyMarkdown
{
    public static void Write(string path, JsonObject results, StudyRunInfo run) => IO.AtomicFile.WriteText(path, Render(results, run));

    public static string Render(JsonObject results, StudyRunInfo run)
    {
        var settings = results["settings"]!;
        var tasks = results["tasks"]!.AsArray().Select(t => ((string)t!["name"]!, (int)t["documents"]!)).ToList();
        var rows = results["rows"]!.AsArray().Select(r => r!.AsObject()).ToList();
        var sb = new StringBuilder();
        if (run.Command.Length > 0)
        {
            sb.AppendLine("```");
            sb.AppendLine(run.Command);
            sb.AppendLine("```");
            sb.AppendLine();
        }
        sb.AppendLine("| | |");
        sb.AppendLine("|---|---|");
        Row(sb, "machine", run.Machine);
        if (run.LoadBefore.Length > 0) Row(sb, "load average (1/5/15 min) before / after", $"{run.LoadBefore} / {run.LoadAfter}");
        if (results["progress"] is { } progress && (int)progress["measured"]! < (int)progress["planned"]!)
            Row(sb, "measurements", $"{progress["measured"]} of {progress["planned"]} (variant × seed) so far: rows show the seeds measured, missing rows are not measured yet");
        Row(sb, "model", $"`{Shown((string)settings["model_dir"]!)}`");
        Row(sb, "evaluation", $"{results["evaluation"]!["description"]}: {results["evaluation"]!["predicted_tokens"]} predicted tokens (perplexity, KL(parent ‖ model), top-1 agreement)");
        Row(sb, "tasks", string.Join(", ", tasks.Select(t => $"`{t.Item1}` (first {t.Item2} documents, 0-shot, acc)")));
        Row(sb, "calibration", $"`{settings["calibration"]}`, {settings["calibration_sequences"]} × {settings["calibration_length"]} tokens, seeds {string.Join(",", results["calibration_seeds"]!.AsArray())}; input sample {settings["similarity_tokens"]} rows per layer; learned merge {settings["learned_steps"]} steps");
        sb.AppendLine();
        var parent = results["parent"]!;
        sb.AppendLine($"Parent: perplexity {F(parent["perplexity"], 2)}; " + string.Join("; ", tasks.Select(t => $"{t.Item1} acc {Pct(parent["tasks"]![t.Item1]!["acc"])} ± {Pct(parent["tasks"]![t.Item1]!["acc_stderr"])}")) + ".");
        sb.AppendLine();
        foreach (int groups in results["groups"]!.AsArray().Select(g => (int)g!))
        {
            var table = rows.Where(r => (int)r["groups"]! == groups).OrderBy(r => (double)r["perplexity"]!["mean"]!).ToList();
            if (table.Count == 0) continue;
            sb.AppendLine($"### {groups} experts per layer");
            sb.AppendLine();
            sb.AppendLine("| rank | variant | kind | perplexity | ≈ #1 | KL(parent ‖ model) | top-1 agreement % | " + string.Join(" | ", tasks.Select(t => $"{t.Item1} acc %")) + " | seeds |");
            sb.AppendLine("|---:|---|---|---:|:---:|---:|---:|" + string.Concat(tasks.Select(_ => "---:|")) + "---:|");
            int rank = 0;
            foreach (var r in table)
                sb.AppendLine($"| {++rank} | {r["variant"]} | {r["kind"]} | {MeanSd(r["perplexity"], 2)} | {(rank > 1 && WithinNoise(r["perplexity"]!, table[0]["perplexity"]!) ? "≈" : "")} | {MeanSd(r["kl_mean"], 4)} | {MeanSd(r["top1_agreement"], 1, 100)} | "
                    + string.Join(" | ", tasks.Select(t => $"{MeanSd(r["tasks"]![t.Item1]!["acc"], 1, 100)} (±{Pct(r["tasks"]![t.Item1]!["acc_stderr"])})"))
                    + $" | {((bool)r["data_free"]! ? "data-free" : r["perplexity"]!["n"]!.ToString())} |");
            sb.AppendLine();
            sb.AppendLine("Mean ± sample sd over calibration seeds (data-free rows: one value); task accuracy ± the mean standard error of one "
                          + "evaluation. ≈: the perplexity is within noise of rank 1 (the means differ by less than twice the standard error of "
                          + "their difference over seeds, √(sd₁²/n₁ + sd²/n)).");
            sb.AppendLine();
            var bestMerge = table.FirstOrDefault(r => (string)r["kind"]! != "drop");
            var bestDrop = table.FirstOrDefault(r => (string)r["kind"]! == "drop");
            if (bestMerge is not null && bestDrop is not null)
            {
                double m = (double)bestMerge["perplexity"]!["mean"]!, d = (double)bestDrop["perplexity"]!["mean"]!;
                sb.AppendLine($"Best merge: {bestMerge["variant"]} {MeanSd(bestMerge["perplexity"], 2)}; best drop: {bestDrop["variant"]} {MeanSd(bestDrop["perplexity"], 2)}; "
                              + $"perplexity {(m < d ? "lower" : "higher")} by {Math.Abs(d - m).ToString("F2", CultureInfo.InvariantCulture)} ({Math.Abs(d - m) / d * 100:F1}% of the drop's).");
                sb.AppendLine();
            }
            var learned = table.Where(r => r["learned_held_out_error"] is not null).ToList();
            if (learned.Count > 0)
            {
                sb.AppendLine("Learned merges, relative reconstruction error of the layer output on the held-out 25% of the input sample (mean over layers and seeds): "
                    + string.Join("; ", learned.Select(r => $"{r["variant"]}: uniform start {F(r["learned_held_out_error"]!["uniform"], 3)} → fitted {F(r["learned_held_out_error"]!["learned"], 3)}")) + ".");
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }

    /// <summary>|mean − mean₁| &lt; 2·√(sd₁²/n₁ + sd²/n): the two rows' seed-to-seed spread covers their difference.</summary>
    public static bool WithinNoise(JsonNode row, JsonNode best)
    {
        double Var(JsonNode s) => (double)s["sd"]! * (double)s["sd"]! / (int)s["n"]!;
        return Math.Abs((double)row["mean"]! - (double)best["mean"]!) < 2 * Math.Sqrt(Var(row) + Var(best));
    }

    /// <summary>A path inside the working directory relative to it (docs do not name a checkout), else as it is.</summary>
    private static string Shown(string path)
    {
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative;
    }

    private static void Row(StringBuilder sb, string key, string value) => sb.AppendLine($"| {key} | {value} |");

    private static string F(JsonNode? v, int digits) => v is null ? "–" : ((double)v).ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string Pct(JsonNode? v) => v is null ? "–" : ((double)v * 100).ToString("F1", CultureInfo.InvariantCulture);

    private static string MeanSd(JsonNode? stat, int digits, double scale = 1)
    {
        if (stat is null) return "–";
        string mean = ((double)stat["mean"]! * scale).ToString("F" + digits, CultureInfo.InvariantCulture);
        return (int)stat["n"]! < 2 ? mean : $"{mean} ± {((double)stat["sd"]! * scale).ToString("F" + digits, CultureInfo.InvariantCulture)}";
    }
}
