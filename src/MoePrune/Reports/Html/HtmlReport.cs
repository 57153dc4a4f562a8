namespace MoePrune.Reports.Html;

/// <summary>What a report wrote: the page, its figures and the JSON files it summarises (copied under data/).</summary>
public sealed record HtmlReportSummary(string Page, IReadOnlyList<string> Figures, IReadOnlyList<ReportInput> Inputs);

/// <summary>
/// <c>moeprune report</c>: an HTML page with PNG figures (ScottPlot) summarising the JSON files of a run or model
/// directory: criterion heatmaps (scores.json), expert load and routing entropy (scores.json + pruning.json),
/// curves against sparsity (study JSON) and similarity matrices (merging). The inputs are copied into
/// <c>data/</c> beside the page and linked from it; the page needs no network and no script.
/// </summary>
public static class HtmlReport
{
    public static HtmlReportSummary Write(IReadOnlyList<string> inputs, string outDir)
    {
        var found = ReportInputs.Find(inputs);
        List<string> figures = [];
        IO.AtomicDirectory.Create(outDir, temp =>
        {
            Directory.CreateDirectory(Path.Combine(temp, "data"));
            foreach (var input in found) File.Copy(input.Path, Path.Combine(temp, "data", input.Name));
            var page = new HtmlPage("MoePrune report");
            page.Paragraph("Summarises: " + string.Join(", ", found.Select(i =>
                $"<a href=\"data/{HtmlPage.Esc(i.Name)}\">{HtmlPage.Esc(i.Name)}</a> ({i.Kind.ToString().ToLowerInvariant()})")));
            var pruning = found.Where(i => i.Kind == ReportInputKind.Pruning).Select(PruningRecord.Read).FirstOrDefault();
            foreach (var scores in found.Where(i => i.Kind == ReportInputKind.Scores))
            {
                LoadSection.Render(page, scores, pruning, temp);
                ScoresSection.Render(page, scores, pruning, temp);
            }
            foreach (var study in found.Where(i => i.Kind == ReportInputKind.Study)) StudySection.Render(page, study, temp);
            foreach (var similarity in found.Where(i => i.Kind == ReportInputKind.Similarity)) SimilaritySection.Render(page, similarity, temp);
            File.WriteAllText(Path.Combine(temp, "index.html"), page.Render());
            figures = Directory.GetFiles(temp, "*.png").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        });
        return new HtmlReportSummary(Path.Combine(outDir, "index.html"), figures, found);
    }
}
