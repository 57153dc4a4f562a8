using System.Globalization;
using MoePrune.Data;

namespace MoePrune.Calibration;

/// <summary>Where one calibration source's documents come from.</summary>
public enum CalibrationSourceKind { Corpus, TextFile, JsonlFile, TokenFile }

/// <summary>
/// One part of a calibration spec: its name (the spec text without the weight, e.g. <c>brown:news</c> or
/// <c>tokens:ids.txt</c>), where its documents come from, and its relative weight in the mix.
/// </summary>
public sealed record CalibrationPart(string Name, CalibrationSourceKind Kind, string Argument, double Weight)
{
    /// <summary>True when the source is text and needs the model's tokenizer.</summary>
    public bool NeedsTokenizer => Kind != CalibrationSourceKind.TokenFile;
}

/// <summary>
/// Parses <c>--calib</c>: comma-separated sources, each optionally weighted with <c>=W</c>
/// (<c>brown:news=2,brown:learned=1,wordnet=1</c>). Sources:
/// <list type="bullet">
/// <item><c>brown</c>, <c>brown:GENRE</c>, <c>wordnet</c>: corpus train splits (<see cref="CalibrationSources"/>)</item>
/// <item><c>text:FILE</c>: plain text, one document per blank-line-separated paragraph</item>
/// <item><c>jsonl:FILE</c>: one JSON object per line with a <c>"text"</c> string</item>
/// <item><c>tokens:FILE</c>: whitespace-separated token ids, one document per line (no tokenizer needed)</item>
/// <item>a bare path ending in <c>.txt</c> or <c>.jsonl</c>: the same as <c>text:</c> / <c>jsonl:</c></item>
/// </list>
/// </summary>
public static class CalibrationSpec
{
    /// <summary>The default mix: every train-split Brown genre and the WordNet gloss prose, equal weights.</summary>
    public const string Default = "brown=1,wordnet=1";

    public static IReadOnlyList<CalibrationPart> Parse(string spec)
    {
        var parts = new List<CalibrationPart>();
        foreach (string raw in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var (text, weight) = SplitWeight(raw);
            parts.Add(ParsePart(text, weight));
        }
        if (parts.Count == 0)
            throw new MoePruneException($"--calib: '{spec}' names no calibration source");
        var dup = parts.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new MoePruneException($"--calib: source '{dup.Key}' given twice");
        return parts;
    }

    private static CalibrationPart ParsePart(string text, double weight)
    {
        string lower = text.ToLowerInvariant();
        if (lower == "brown" || lower == "wordnet" || lower.StartsWith("brown:", StringComparison.Ordinal))
        {
            try { CalibrationSources.Parse(lower); }
            catch (MoePruneException e) { throw new MoePruneException($"--calib: {e.Message}"); }
            return new CalibrationPart(lower, CalibrationSourceKind.Corpus, lower, weight);
        }
        foreach (var (prefix, kind) in Prefixes)
            if (lower.StartsWith(prefix, StringComparison.Ordinal))
                return FilePart(text[prefix.Length..], prefix, kind, weight);
        if (lower.EndsWith(".txt", StringComparison.Ordinal)) return FilePart(text, "text:", CalibrationSourceKind.TextFile, weight);
        if (lower.EndsWith(".jsonl", StringComparison.Ordinal)) return FilePart(text, "jsonl:", CalibrationSourceKind.JsonlFile, weight);
        throw new MoePruneException(
            $"--calib: unknown calibration source '{text}' (expected brown, brown:GENRE, wordnet, text:FILE, jsonl:FILE, tokens:FILE or a .txt/.jsonl path)");
    }

    private static readonly (string Prefix, CalibrationSourceKind Kind)[] Prefixes =
    [
        ("text:", CalibrationSourceKind.TextFile),
        ("jsonl:", CalibrationSourceKind.JsonlFile),
        ("tokens:", CalibrationSourceKind.TokenFile),
    ];

    private static CalibrationPart FilePart(string path, string prefix, CalibrationSourceKind kind, double weight)
    {
        if (path.Length == 0)
            throw new MoePruneException($"--calib: '{prefix}' needs a file name");
        if (!File.Exists(path))
            throw new MoePruneException($"--calib: {path}: calibration file not found");
        return new CalibrationPart(prefix + Path.GetFileName(path), kind, path, weight);
    }

    /// <summary>"brown:news=2" → ("brown:news", 2); a source without "=W" has weight 1.</summary>
    private static (string Text, double Weight) SplitWeight(string raw)
    {
        int eq = raw.LastIndexOf('=');
        if (eq < 0) return (raw, 1);
        string w = raw[(eq + 1)..];
        if (!double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out double weight) || !(weight > 0) || double.IsInfinity(weight))
            throw new MoePruneException($"--calib: weight '{w}' of '{raw[..eq]}' must be a positive number");
        return (raw[..eq].Trim(), weight);
    }
}
