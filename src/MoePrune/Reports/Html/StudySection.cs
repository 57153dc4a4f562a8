using System.Globalization;
using System.Text.Json.Nodes;
using ScottPlot;

namespace MoePrune.Reports.Html;

/// <summary>
/// A study JSON (one-shot today; iterative and lottery studies write the same <c>rows</c> → <c>ratios</c> shape):
/// perplexity (and accuracy, where rows carry it) against sparsity, one line per strategy, grouped by the rows'
/// <c>group</c> so that each figure stays readable, with the unpruned reference at sparsity 0; and the table of means.
/// </summary>
public static class StudySection
{
    public static void Render(HtmlPage page, ReportInput study, string outDir)
    {
        string kind = (string?)study.Json["study"] ?? "study";
        var ratios = study.Json["ratios"]!.AsArray().Select(r => (double)r!).ToArray();
        var rows = study.Json["rows"]!.AsArray().OfType<JsonObject>().ToList();
        double? reference = study.Json["references"]?.AsArray().OfType<JsonObject>()
            .Select(r => (double?)r["perplexity"]).FirstOrDefault(p => p is not null);
        page.Heading($"Perplexity against sparsity: {kind} ({study.Name})", id: $"study-{Figure.Slug(study.Name)}");
        page.Paragraph($"From <a href=\"data/{HtmlPage.Esc(study.Name)}\">{HtmlPage.Esc(study.Name)}</a>" +
                       (study.Json["evaluation"]?["description"] is JsonNode d ? $"; evaluation: {HtmlPage.Esc(d.ToString())}" : "") +
                       (reference is double r ? $"; unpruned perplexity {HtmlPage.Number(r)}" : "") +
                       ". Sparsity = fraction of each layer's experts removed; bars: ± one standard deviation over seeds.");
        foreach (var group in rows.GroupBy(r => (string?)r["group"] ?? "all"))
        {
            string file = Curves(kind, group.Key, group.ToList(), ratios, reference, "mean", "perplexity", outDir, study.Name);
            page.Image(file, $"{kind}: perplexity vs sparsity, {group.Key} strategies");
            if (group.Any(r => HasMetric(r, "accuracy")))
                page.Image(Curves(kind, group.Key, group.ToList(), ratios, null, "accuracy", "accuracy", outDir, study.Name),
                           $"{kind}: accuracy vs sparsity, {group.Key} strategies");
        }
        var keys = ratios.Select(r => r.ToString(CultureInfo.InvariantCulture)).ToArray();
        page.Table(["strategy", "group", .. keys.SelectMany(k => new[] { $"mean @ {k}", $"sd @ {k}" })],
            rows.Select((row, i) => (IEnumerable<string>)[
                HtmlPage.TextCell((string?)row["name"] ?? $"row {i}"), HtmlPage.TextCell((string?)row["group"] ?? ""),
                .. keys.SelectMany(k => row["ratios"]?[k] is JsonObject cell
                    ? new[] { Value(cell, "mean", study.Name, $"/rows/{i}/ratios/{ScoresSection.Pointer(k)}/mean"),
                              Value(cell, "sd", study.Name, $"/rows/{i}/ratios/{ScoresSection.Pointer(k)}/sd") }
                    : ["<td></td>", "<td></td>"])]));
    }

    static string Value(JsonObject cell, string key, string source, string path) =>
        cell[key] is JsonValue v && v.TryGetValue<double>(out double x) ? HtmlPage.Cell(x, source, path) : "<td></td>";

    static bool HasMetric(JsonObject row, string metric) =>
        row["ratios"] is JsonObject r && r.Any(kv => kv.Value?[metric] is not null);

    /// <summary>(mean, sd) of <paramref name="metric"/>: "mean"/"sd" for perplexity, else a number or {mean, sd} under the metric's key.</summary>
    static (double Mean, double Sd)? Metric(JsonNode? cell, string metric)
    {
        if (cell is not JsonObject c) return null;
        if (metric == "mean") return c["mean"] is JsonValue m ? ((double)m, (double?)c["sd"] ?? 0) : null;
        return c[metric] switch
        {
            JsonValue v when v.TryGetValue<double>(out double x) => (x, 0),
            JsonObject o when o["mean"] is JsonValue m => ((double)m, (double?)o["sd"] ?? 0),
            _ => null,
        };
    }

    static string Curves(string kind, string group, List<JsonObject> rows, double[] ratios, double? reference, string metric,
                         string yLabel, string dir, string source)
    {
        var plot = Figure.Create($"{kind}: {group}", "sparsity (fraction of experts removed)", yLabel);
        var palette = new ScottPlot.Palettes.Category20();
        for (int i = 0; i < rows.Count; i++)
        {
            var points = ratios.Select(r => (Ratio: r, Value: Metric(rows[i]["ratios"]?[r.ToString(CultureInfo.InvariantCulture)], metric)))
                               .Where(p => p.Value is not null).Select(p => (p.Ratio, p.Value!.Value.Mean, p.Value.Value.Sd)).ToList();
            if (reference is double r0) points.Insert(0, (0, r0, 0));
            if (points.Count == 0) continue;
            var color = palette.GetColor(i);
            var line = plot.Add.Scatter(points.Select(p => p.Item1).ToArray(), points.Select(p => p.Mean).ToArray());
            line.LegendText = (string?)rows[i]["name"] ?? $"row {i}";
            line.Color = color;
            line.MarkerSize = 6;
            var bars = plot.Add.ErrorBar(points.Select(p => p.Item1).ToArray(), points.Select(p => p.Mean).ToArray(),
                                         points.Select(p => p.Sd).ToArray());
            bars.Color = color;
        }
        plot.ShowLegend(Edge.Right);
        return Figure.Save(plot, dir, $"study-{Figure.Slug(Path.GetFileNameWithoutExtension(source))}-{Figure.Slug(group)}-{metric}.png", height: 460);
    }
}
