using System.Text.Json.Nodes;
using ScottPlot;

namespace MoePrune.Reports.Html;

/// <summary>
/// Expert load and routing entropy per layer, from the <c>frequency</c> criterion of scores.json (the fraction of
/// calibration tokens routed to each expert) and, when given, pruning.json: bars of every layer's load shares with
/// removed experts in red, the share of routing mass that lands on kept experts, and the entropy of the load
/// distribution in bits (before pruning, and over the kept experts before the router re-spreads the removed ones'
/// tokens), against its maximum log2(E).
/// </summary>
public static class LoadSection
{
    public static void Render(HtmlPage page, ReportInput scores, PruningRecord? pruning, string outDir)
    {
        var node = scores.Json["criteria"]!["min-frequency"] ?? scores.Json["criteria"]!["max-frequency"];
        if (node is not JsonObject frequencyNode) return;
        string key = scores.Json["criteria"]!["min-frequency"] is not null ? "min-frequency" : "max-frequency";
        var load = CriterionTable.Read(key, frequencyNode);
        page.Heading("Expert load and routing entropy", id: "load");
        page.Paragraph($"Load: the <code>frequency</code> criterion of <a href=\"data/{HtmlPage.Esc(scores.Name)}\">{HtmlPage.Esc(scores.Name)}</a> " +
                       "(fraction of calibration tokens routed to each expert), as a share of the layer's routed tokens." +
                       (pruning is null ? "" : $" Removed experts (red) from <a href=\"data/{HtmlPage.Esc(pruning.Input.Name)}\">{HtmlPage.Esc(pruning.Input.Name)}</a>."));
        page.Image(LoadBars(load, pruning, outDir), "Expert load share per layer" + (pruning is null ? "" : " (red: removed by pruning)"));
        var before = load.Layers.Select(l => Entropy(l.Values)).ToArray();
        var after = pruning is null ? null : load.Layers.Select(l => Entropy(Kept(l, pruning))).ToArray();
        page.Image(EntropyPlot(load, before, after, outDir), "Entropy of the expert load distribution per layer (bits)");
        var header = new List<string> { "layer", "experts", "entropy before (bits)", "max log2(E)" };
        if (pruning is not null) header.AddRange(["kept", "removed", "load share kept", "entropy of kept (bits)"]);
        page.Table(header, load.Layers.Select((l, i) =>
        {
            var cells = new List<string>
            {
                HtmlPage.TextCell(l.Layer.ToString()), HtmlPage.TextCell(l.Values.Length.ToString()),
                HtmlPage.Derived(before[i]), HtmlPage.Derived(Math.Log2(l.Values.Length)),
            };
            if (pruning is not null)
            {
                var (kept, removed) = pruning.Layers.TryGetValue(l.Layer, out var k) ? k : (Enumerable.Range(0, l.Values.Length).ToArray(), []);
                cells.Add(HtmlPage.TextCell(string.Join(" ", kept)));
                cells.Add(HtmlPage.TextCell(string.Join(" ", removed)));
                cells.Add(HtmlPage.Derived(kept.Sum(e => l.Values[e]) / l.Values.Sum()));
                cells.Add(HtmlPage.Derived(after![i]));
            }
            return cells;
        }));
    }

    /// <summary>Entropy in bits of the distribution proportional to <paramref name="weights"/>.</summary>
    public static double Entropy(IEnumerable<double> weights)
    {
        var w = weights.Where(x => x > 0).ToArray();
        double sum = w.Sum();
        return -w.Sum(x => x / sum * Math.Log2(x / sum));
    }

    static double[] Kept((int Layer, double[] Values) l, PruningRecord pruning) =>
        pruning.Layers.TryGetValue(l.Layer, out var k) ? k.Kept.Select(e => l.Values[e]).ToArray() : l.Values;

    static string LoadBars(CriterionTable load, PruningRecord? pruning, string dir)
    {
        var plot = Figure.Create("Expert load share per layer", "layer (bars: experts in index order)", "share of routed tokens");
        var bars = new List<Bar>();
        int widest = load.Layers.Max(l => l.Values.Length);
        double step = 0.8 / widest;
        for (int i = 0; i < load.Layers.Count; i++)
        {
            var (layer, values) = load.Layers[i];
            double total = values.Sum();
            var removed = pruning?.Removed(layer) ?? [];
            for (int e = 0; e < values.Length; e++)
                bars.Add(new Bar
                {
                    Position = i - 0.4 + step * (e + 0.5), Value = values[e] / total, Size = step * 0.9,
                    FillColor = removed.Contains(e) ? Colors.Red : Colors.SteelBlue, LineWidth = 0,
                });
        }
        plot.Add.Bars(bars);
        var uniform = plot.Add.HorizontalLine(1.0 / widest);
        uniform.LinePattern = LinePattern.Dashed;
        uniform.LineColor = Colors.Gray;
        uniform.LegendText = $"uniform 1/{widest}";
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Bottom.TickGenerator = Figure.Ticks(load.Layers.Count, i => load.Layers[i].Layer.ToString());
        plot.Axes.Margins(bottom: 0);
        return Figure.Save(plot, dir, "load.png");
    }

    static string EntropyPlot(CriterionTable load, double[] before, double[]? after, string dir)
    {
        var plot = Figure.Create("Routing entropy per layer", "layer", "entropy of expert load (bits)");
        double[] xs = Enumerable.Range(0, load.Layers.Count).Select(i => (double)i).ToArray();
        var b = plot.Add.Scatter(xs, before);
        b.LegendText = "before pruning";
        b.MarkerSize = 8;
        var max = plot.Add.Scatter(xs, load.Layers.Select(l => Math.Log2(l.Values.Length)).ToArray());
        max.LegendText = "maximum log2(E)";
        max.LinePattern = LinePattern.Dashed;
        max.Color = Colors.Gray;
        if (after is not null)
        {
            var a = plot.Add.Scatter(xs, after);
            a.LegendText = "kept experts (before re-routing)";
            a.MarkerSize = 8;
            a.Color = Colors.Red;
        }
        plot.ShowLegend(Alignment.LowerRight);
        plot.Axes.Bottom.TickGenerator = Figure.Ticks(load.Layers.Count, i => load.Layers[i].Layer.ToString());
        plot.Axes.SetLimitsY(0, load.Layers.Max(l => Math.Log2(l.Values.Length)) * 1.1);
        return Figure.Save(plot, dir, "entropy.png", height: 360);
    }
}
