using MoePrune.IO;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Evaluation.Kl;
using MoePrune.Evaluation.LogLikelihood;

namespace MoePrune.Evaluation.Tasks;

/// <summary>
/// What <c>eval</c> reports: results.json (<see cref="ToJson"/>), the samples file (<see cref="SampleLines"/>, one
/// JSON object per document) and a Markdown table (<see cref="ToMarkdown"/>).
/// </summary>
public sealed record EvaluationReport(string Model, IReadOnlyList<TaskResult> Tasks, KlResult? Kl, EvalSettings Settings, string? Reference = null)
{
    /// <summary>How a layer-by-layer evaluation ran (why, bytes read, hidden states), written as <c>layerwise</c>; null in memory.</summary>
    public JsonObject? Layerwise { get; init; }

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["model"] = Model };
        if (Tasks.Count > 0)
        {
            var tasks = new JsonObject();
            foreach (var t in Tasks) tasks[t.Name] = t.ToJson();
            o["tasks"] = tasks;
        }
        if (Kl is { } kl)
        {
            o["kl"] = new JsonObject
            {
                ["mean"] = kl.Mean, ["p99"] = kl.P99, ["top1_agreement"] = kl.Top1Agreement,
                ["perplexity"] = kl.Perplexity, ["reference_perplexity"] = kl.ReferencePerplexity,
                ["positions"] = kl.Positions, ["reference"] = Reference,
            };
        }
        o["settings"] = Settings.ToJson();
        if (Layerwise is not null) o["layerwise"] = Layerwise.DeepClone();
        return o;
    }

    public IEnumerable<string> SampleLines() => Tasks.SelectMany(t => t.Samples).Select(s => s.ToJsonString(Compact));

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        if (Tasks.Count > 0)
        {
            sb.Append("| task | type | n | shots | acc | acc_norm | accuracy | format_rate |\n");
            sb.Append("|---|---|---:|---:|---:|---:|---:|---:|\n");
            foreach (var t in Tasks)
                sb.Append($"| {t.Name} | {(t.Kind == TaskKind.MultipleChoice ? "multiple_choice" : "generate")} | {t.N} | {t.Shots} | "
                          + $"{Cell(t.Acc)} | {Cell(t.AccNorm)} | {Cell(t.Accuracy)} | {(t.FormatRate is { } f ? F(f) : "")} |\n");
        }
        if (Kl is { } kl)
        {
            if (sb.Length > 0) sb.Append('\n');
            sb.Append("| KL mean | KL p99 | top-1 agreement | perplexity | reference perplexity | positions |\n");
            sb.Append("|---:|---:|---:|---:|---:|---:|\n");
            sb.Append($"| {kl.Mean.ToString("G4", CultureInfo.InvariantCulture)} | {kl.P99.ToString("G4", CultureInfo.InvariantCulture)} | {F(kl.Top1Agreement)} | "
                      + $"{kl.Perplexity.ToString("F3", CultureInfo.InvariantCulture)} | {kl.ReferencePerplexity.ToString("F3", CultureInfo.InvariantCulture)} | {kl.Positions} |\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// Writes the files that were asked for (null: not asked), each under a temporary name renamed into place when
    /// complete.
    /// </summary>
    public void Write(string? resultsPath, string? samplesPath, string? markdownPath)
    {
        if (resultsPath is not null) AtomicFile.WriteText(resultsPath, ToJson().ToJsonString(Indented) + "\n");
        if (samplesPath is not null) AtomicFile.WriteLines(samplesPath, SampleLines());
        if (markdownPath is not null) AtomicFile.WriteText(markdownPath, ToMarkdown());
    }

    /// <summary>Throws when the folder a file would be written to does not exist (checked before any work).</summary>
    public static void CheckWritable(string? path, string option)
    {
        if (path is null) return;
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new MoePruneException($"{option} {path}: the folder {dir} does not exist");
        if (Directory.Exists(path)) throw new MoePruneException($"{option} {path}: is a folder");
    }

    static string Cell(MeanWithError? m) => m is { } v ? v.StandardError is { } e ? $"{F(v.Mean)} ± {F(e)}" : F(v.Mean) : "";

    static string F(double x) => x.ToString("F4", CultureInfo.InvariantCulture);

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
