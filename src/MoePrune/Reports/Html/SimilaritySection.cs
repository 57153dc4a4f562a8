using System.Text.Json.Nodes;
using ScottPlot;

namespace MoePrune.Reports.Html;

/// <summary>
/// Expert similarity matrices (for merging): <c>similarity</c> → measure name → layer → E × E rows, one heatmap
/// per measure and layer. The input shape is the one merging writes; nothing else is assumed about the measure.
/// </summary>
public static class SimilaritySection
{
    public static void Render(HtmlPage page, ReportInput input, string outDir)
    {
        page.Heading($"Expert similarity ({input.Name})", id: $"similarity-{Figure.Slug(input.Name)}");
        page.Paragraph($"From <a href=\"data/{HtmlPage.Esc(input.Name)}\">{HtmlPage.Esc(input.Name)}</a>.");
        foreach (var (measure, layers) in input.Json["similarity"]!.AsObject())
            foreach (var (layer, matrixNode) in layers?.AsObject() ?? [])
            {
                var matrix = (matrixNode as JsonArray ?? []).Select(row => (row as JsonArray ?? []).Select(v => (double)v!).ToArray()).ToArray();
                int n = matrix.Length;
                if (n == 0 || matrix.Any(r => r.Length != n)) continue;
                var data = new double[n, n];
                for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) data[i, j] = matrix[i][j];
                var plot = Figure.Create($"{measure}, layer {layer}", "expert", "expert");
                var map = Figure.Heatmap(plot, data);
                plot.Add.ColorBar(map).Label = measure;
                plot.Axes.Bottom.TickGenerator = Figure.Ticks(n, e => e.ToString());
                plot.Axes.Left.TickGenerator = Figure.Ticks(n, e => e.ToString());
                string file = Figure.Save(plot, outDir, $"similarity-{Figure.Slug(measure)}-{Figure.Slug(layer)}.png", 620, 520);
                page.Image(file, $"{measure} between experts of layer {layer}");
            }
    }
}
