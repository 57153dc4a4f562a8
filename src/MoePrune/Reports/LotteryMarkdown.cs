using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MoePrune.Reports;

/// <summary>
/// The tables of a lottery study JSON (<c>Studies.Lottery.LotteryStudyJson</c>) as Markdown: perplexity and accuracy
/// by criterion × strategy × sparsity (mean ± sd over seeds, n, and which differences between strategies are within
/// noise: |Δ| ≤ 2·SE of the difference, or a single seed), the instruction-following test, the budget, the recovery
/// variants, 2:4 pruning and speed. Sections whose units have not finished are left out.
/// </summary>
public static class LotteryMarkdown
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(JsonObject study)
    {
        var sb = new StringBuilder();
        var ratios = study["ratios"]!.AsArray().Select(r => (double)r!).ToList();
        var rows = study["rows"]!.AsArray().OfType<JsonObject>().ToList();
        double? unpruned = (double?)study["references"]?.AsArray().OfType<JsonObject>().FirstOrDefault()?["perplexity"];
        sb.AppendLine($"Unpruned perplexity: {F(unpruned)}. Cells: mean ± sd over seeds (n); `≈` marks a strategy within noise of the one above it (|Δ| ≤ 2 SE of the difference, or n = 1).");
        sb.AppendLine();
        Table(sb, "Validation perplexity", rows, ratios, "perplexity", c => c is null ? null : ((double)c["mean"]!, (double)c["sd"]!, (int)c["n"]!));
        Table(sb, "KL(parent ‖ pruned), nats per token", rows, ratios, "kl", c => Stat(c?["kl"]));
        Table(sb, $"Task accuracy (mean acc of {string.Join(", ", study["settings"]?["tasks"]?.AsArray().Select(t => (string)t!) ?? [])}; chance 0.25)", rows, ratios, "accuracy", c => Stat(c?["accuracy"]));
        Table(sb, "Expert-load entropy ÷ log E (1 = balanced)", rows, ratios, "load", c => Stat(c?["load_relative_entropy"]));
        Instruction(sb, study["instruction"] as JsonObject);
        Budget(sb, study["budget"] as JsonObject, study);
        Recovery(sb, study["recovery"] as JsonObject);
        SemiStructured(sb, study["semi_structured"] as JsonObject, study["speed"] as JsonObject);
        return sb.ToString();
    }

    static (double Mean, double Sd, int N)? Stat(JsonNode? n) => n is JsonObject o ? ((double)o["mean"]!, (double)o["sd"]!, (int?)o["n"] ?? 1) : null;

    static void Table(StringBuilder sb, string title, List<JsonObject> rows, List<double> ratios, string metric, Func<JsonObject?, (double Mean, double Sd, int N)?> get)
    {
        if (!rows.Any(r => ratios.Any(q => get(Cell(r, q)) is not null))) return;
        sb.AppendLine($"### {title}").AppendLine();
        sb.AppendLine("| criterion | strategy | " + string.Join(" | ", ratios.Select(q => $"{q * 100:0.#}%")) + " |");
        sb.AppendLine("|---|---|" + string.Concat(ratios.Select(_ => "---:|")));
        foreach (var group in rows.GroupBy(r => (string)r["group"]!))
        {
            JsonObject? previous = null;
            foreach (var row in group)
            {
                var cells = ratios.Select(q =>
                {
                    var s = get(Cell(row, q));
                    if (s is not { } v) return "";
                    string noise = previous is not null && get(Cell(previous, q)) is { } p && WithinNoise(v, p) ? " ≈" : "";
                    return $"{F(v.Mean)} ± {F(v.Sd)} ({v.N}){noise}";
                });
                sb.AppendLine($"| {row["criterion"]} | {Label(row)} | {string.Join(" | ", cells)} |");
                previous = row;
            }
        }
        sb.AppendLine();
    }

    static string Label(JsonObject row) => ((string)row["name"]!)[(((string)row["criterion"]!).Length)..].Trim().TrimStart(',').Trim();

    static JsonObject? Cell(JsonObject row, double ratio) => row["ratios"]?[OneShotJson.RatioKey(ratio)] as JsonObject;

    public static bool WithinNoise((double Mean, double Sd, int N) a, (double Mean, double Sd, int N) b) =>
        a.N < 2 || b.N < 2 || Math.Abs(a.Mean - b.Mean) <= 2 * Math.Sqrt(a.Sd * a.Sd / a.N + b.Sd * b.Sd / b.N);

    static void Instruction(StringBuilder sb, JsonObject? units)
    {
        var rows = units?.Where(kv => kv.Key.StartsWith("c-d", StringComparison.Ordinal)).Select(kv => kv.Value!.AsObject()).OrderBy(u => (int)u["drop"]!).ToList();
        if (rows is not { Count: > 0 }) return;
        var shots = rows[0].Select(kv => kv.Key).First(k => k.StartsWith("shots_", StringComparison.Ordinal));
        var tasks = rows[0]["zero_shot"]!.AsObject().Select(kv => kv.Key).ToList();
        sb.AppendLine("### Instruction following: zero-shot, k-shot, after SFT (accuracy; generated: accuracy / format_rate)").AppendLine();
        sb.AppendLine("| model | " + string.Join(" | ", tasks.SelectMany(t => new[] { $"{t} 0-shot", $"{t} {shots.Replace("shots_", "")}-shot", $"{t} SFT" })) + " | SFT loss | ppl after SFT |");
        sb.AppendLine("|---|" + string.Concat(tasks.SelectMany(_ => new[] { "---:|", "---:|", "---:|" })) + "---:|---:|");
        foreach (var u in rows)
        {
            string Cell(JsonNode? t) => t is null ? "" : t["acc"] is JsonNode acc ? F((double)acc)
                : $"{F((double?)t["accuracy"])} / {F((double?)t["format_rate"])}";
            var cells = tasks.SelectMany(t => new[] { Cell(u["zero_shot"]?[t]), Cell(u[shots]?[t]), Cell(u["after_sft_zero_shot"]?[t]) });
            sb.AppendLine($"| {u["model"]} | {string.Join(" | ", cells)} | {F((double?)u["sft"]?["loss_first"])} → {F((double?)u["sft"]?["loss_final"])} | {F((double?)u["after_sft_perplexity"]?["perplexity"])} |");
        }
        sb.AppendLine();
    }

    static void Budget(StringBuilder sb, JsonObject? units, JsonObject study)
    {
        if (units is not { Count: > 0 }) return;
        sb.AppendLine("### Fine-tune budget at the highest sparsity (min-EAN lottery, first seed)").AppendLine();
        sb.AppendLine("| first-round budget | tokens trained per round | total tokens | perplexity | KL |").AppendLine("|---:|---|---:|---:|---:|");
        var lines = units.Select(kv => kv.Value!.AsObject())
            .Select(u => (Budget: (long?)u["finetune_budget"], Rounds: u["rounds"]!.AsArray().OfType<JsonObject>().ToList())).ToList();
        foreach (var (budget, rounds) in lines.OrderBy(l => l.Budget ?? 0))
        {
            var last = rounds[^1];
            sb.AppendLine($"| {budget} | {string.Join(", ", rounds.Select(x => x["finetune"]!["tokens"]))} | {rounds.Sum(x => (long)x["finetune"]!["tokens"]!)} | " +
                          $"{F((double)last["evaluation"]!["perplexity"]!)} | {F((double?)last["evaluation"]!["kl"]?["mean"])} |");
        }
        sb.AppendLine("\n(A round trains whole optimizer steps, so a budget below one step trains one step.)\n");
    }

    static void Recovery(StringBuilder sb, JsonObject? units)
    {
        if (units is not { Count: > 0 }) return;
        sb.AppendLine("### Recovery of min-EAN cuts at equal fine-tune tokens (first seed)").AppendLine();
        sb.AppendLine("| run | sparsity | trained | objective | tokens | perplexity | KL | top-1 agreement | fine-tune s |").AppendLine("|---|---:|---|---|---:|---:|---:|---:|---:|");
        foreach (var (name, node) in units.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var round = node!["rounds"]!.AsArray().OfType<JsonObject>().Last();
            var ft = round["finetune"];
            var e = round["evaluation"]!;
            int at = name.LastIndexOf("-d", StringComparison.Ordinal);
            string sparsity = at > 0 && int.TryParse(name[(at + 2)..], out int drop) ? $"{drop}/8" : "";
            sb.AppendLine($"| {name} | {sparsity} | {ft?["train"]} | {ft?["objective"]} | {ft?["tokens"]} | {F((double)e["perplexity"]!)} | {F((double?)e["kl"]?["mean"])} | {F((double?)e["kl"]?["top1_agreement"])} | {F((double?)ft?["seconds"])} |");
        }
        sb.AppendLine();
    }

    static void SemiStructured(StringBuilder sb, JsonObject? twoFour, JsonObject? speed)
    {
        if (twoFour is not null)
        {
            sb.AppendLine("### 2:4 weight pruning of the experts vs dropping half the experts").AppendLine();
            sb.AppendLine("| method | perplexity | KL | tasks (acc) |").AppendLine("|---|---:|---:|---|");
            foreach (var m in new[] { "magnitude", "wanda" })
                if (twoFour[m] is JsonObject o)
                    sb.AppendLine($"| 2:4 {m} | {F((double)o["perplexity"]!)} | {F((double?)o["kl"]?["mean"])} | " +
                                  string.Join(", ", o["tasks"]?.AsObject().Select(t => $"{t.Key} {F((double?)t.Value!["acc"])}") ?? []) + " |");
            sb.AppendLine();
        }
        if (speed?["models"] is JsonObject models)
        {
            sb.AppendLine($"### Memory and forward throughput (batch {speed["batch"]} × {speed["length"]}, {speed["threads"]} threads, median of {speed["repetitions"]})").AppendLine();
            sb.AppendLine("| model | parameters | bytes | memory ratio | tokens/s | speed-up |").AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (var (name, m) in models)
                sb.AppendLine($"| {name} | {m!["parameters"]} | {m["parameter_bytes"]} | {F((double)m["memory_ratio"]!)} | {F((double)m["tokens_per_second"]!)} | {F((double)m["speedup"]!)} |");
            sb.AppendLine();
        }
    }

    static string F(double? v) => v is not double x ? "" : Math.Abs(x) >= 100 ? x.ToString("F1", Inv) : Math.Abs(x) >= 1 ? x.ToString("F2", Inv) : x.ToString("F3", Inv);
}
