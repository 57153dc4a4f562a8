using System.Text.Json.Nodes;
using ScottPlot;

namespace MoePrune.Reports.Html;

/// <summary>
/// scores.json: one layer × expert heatmap per criterion (colour = the value scaled within its layer, since
/// scales differ between layers; the number in each cell is its drop order, 1 = removed first given the
/// criterion's direction; experts a pruning.json removed with this criterion are outlined in red), and the
/// values as a table.
/// </summary>
public static class ScoresSection
{
    public static void Render(HtmlPage page, ReportInput scores, PruningRecord? pruning, string outDir)
    {
        page.Heading($"Criterion scores ({scores.Name})", id: "scores");
        page.Paragraph($"From <a href=\"data/{HtmlPage.Esc(scores.Name)}\">{HtmlPage.Esc(scores.Name)}</a>" +
                       (scores.Json["metadata"]?["calibration"] is JsonNode c ? $": calibration {HtmlPage.Esc(c.ToString())}" : "") +
                       ". Colour: the value scaled to [0, 1] within each layer; number: drop order (1 = dropped first).");
        foreach (var (name, node) in scores.Json["criteria"]!.AsObject())
        {
            var criterion = CriterionTable.Read(name, node!.AsObject());
            if (criterion.Layers.Count == 0) continue;
            var removed = pruning is not null && pruning.Criterion == name ? pruning : null;
            string file = Heatmap(criterion, removed, outDir, $"scores-{Figure.Slug(name)}.png");
            page.Heading(name, 3);
            page.Image(file, $"{name} (drops {criterion.Drops}): layer × expert, drop order in each cell" + (removed is null ? "" : ", removed experts outlined"));
            int experts = criterion.Layers.Max(l => l.Values.Length);
            page.Raw("<details><summary>values</summary>\n");
            page.Table(["layer", .. Enumerable.Range(0, experts).Select(e => $"expert {e}")],
                criterion.Layers.Select(l => (IEnumerable<string>)[HtmlPage.TextCell(l.Layer.ToString()),
                    .. l.Values.Select((v, e) => HtmlPage.Cell(v, scores.Name, $"/criteria/{Pointer(name)}/layers/{l.Layer}/values/{e}",
                        removed?.Removed(l.Layer).Contains(e) == true ? "removed" : null))]));
            page.Raw("</details>\n");
        }
    }

    /// <summary>RFC 6901 escaping of one pointer segment.</summary>
    public static string Pointer(string segment) => segment.Replace("~", "~0").Replace("/", "~1");

    static string Heatmap(CriterionTable c, PruningRecord? removed, string dir, string file)
    {
        int rows = c.Layers.Count, cols = c.Layers.Max(l => l.Values.Length);
        var scaled = new double[rows, cols];
        for (int r = 0; r < rows; r++)
        {
            var v = c.Layers[r].Values;
            double lo = v.Min(), hi = v.Max();
            for (int e = 0; e < cols; e++) scaled[r, e] = e < v.Length ? (hi > lo ? (v[e] - lo) / (hi - lo) : 0.5) : double.NaN;
        }
        var plot = Figure.Create($"{c.Name} (drops {c.Drops})", "expert", "layer");
        var map = Figure.Heatmap(plot, scaled);
        plot.Add.ColorBar(map).Label = "value scaled within layer";
        for (int r = 0; r < rows; r++)
        {
            var order = c.DropOrder(r);
            for (int e = 0; e < c.Layers[r].Values.Length; e++)
            {
                var text = plot.Add.Text((order[e] + 1).ToString(), e, r);
                text.LabelFontSize = rows * cols > 200 ? 9 : 13;
                text.LabelFontColor = scaled[r, e] > 0.6 ? Colors.Black : Colors.White;
                text.LabelAlignment = Alignment.MiddleCenter;
                if (removed?.Removed(c.Layers[r].Layer).Contains(e) == true)
                {
                    var box = plot.Add.Rectangle(e - 0.46, e + 0.46, r - 0.46, r + 0.46);
                    box.FillStyle.Color = Colors.Transparent;
                    box.LineStyle.Color = Colors.Red;
                    box.LineStyle.Width = 3;
                }
            }
        }
        plot.Axes.Bottom.TickGenerator = Figure.Ticks(cols, e => e.ToString());
        plot.Axes.Left.TickGenerator = Figure.Ticks(rows, r => c.Layers[r].Layer.ToString());
        return Figure.Save(plot, dir, file, height: Math.Clamp(140 + 46 * rows, 260, 900));
    }
}

/// <summary>One criterion of scores.json: direction and per-layer values.</summary>
public sealed record CriterionTable(string Name, string Drops, IReadOnlyList<(int Layer, double[] Values)> Layers)
{
    public static CriterionTable Read(string name, JsonObject node)
    {
        var layers = (node["layers"] as JsonObject ?? [])
            .Select(kv => (Layer: int.Parse(kv.Key), Values: (kv.Value?["values"] as JsonArray ?? []).Select(v => (double)v!).ToArray()))
            .Where(l => l.Values.Length > 0).OrderBy(l => l.Layer).ToList();
        return new CriterionTable(name, (string?)node["drops"] ?? "min", layers);
    }

    /// <summary>Position of each expert of layer row <paramref name="row"/> in drop order (0 = dropped first; ties by index).</summary>
    public int[] DropOrder(int row)
    {
        var v = Layers[row].Values;
        var order = Enumerable.Range(0, v.Length).OrderBy(e => Drops == "max" ? -v[e] : v[e]).ThenBy(e => e).ToArray();
        var rank = new int[v.Length];
        for (int i = 0; i < order.Length; i++) rank[order[i]] = i;
        return rank;
    }
}
