using System.Text.Json;
using MoePrune.Data;

namespace MoePrune.Calibration;

/// <summary>
/// The documents of one calibration source in their natural order: texts for corpus, text and JSONL
/// sources, token-id sequences for <c>tokens:</c> files. Read lazily where the source is large.
/// </summary>
public static class CalibrationDocuments
{
    /// <summary>Texts of a text source (corpus splits, paragraphs of a text file, "text" fields of a JSONL file).</summary>
    public static IReadOnlyList<string> Texts(CalibrationPart part) => part.Kind switch
    {
        CalibrationSourceKind.Corpus => CalibrationSources.Texts(part.Argument).ToList(),
        CalibrationSourceKind.TextFile => Paragraphs(part.Argument),
        CalibrationSourceKind.JsonlFile => JsonlTexts(part.Argument),
        _ => throw new InvalidOperationException($"{part.Name} is not a text source"),
    };

    /// <summary>
    /// The strata of <paramref name="part"/>: one per Brown genre for <c>brown</c>, else one holding every document.
    /// Text documents are tokenized with <paramref name="tokenizer"/> (no special tokens) when a sample reads them;
    /// every id must be below <paramref name="vocabSize"/>.
    /// </summary>
    public static IReadOnlyList<CalibrationStratum> Strata(CalibrationPart part, Tokenization.HfTokenizer? tokenizer, int vocabSize)
    {
        if (part.Kind == CalibrationSourceKind.TokenFile)
        {
            var lines = TokenLines(part.Argument, vocabSize);
            return [new CalibrationStratum(part.Name, lines.Count, i => lines[i])];
        }
        var groups = part.Kind == CalibrationSourceKind.Corpus
            ? CalibrationSources.Groups(part.Argument).ToList()
            : [(part.Name, Texts(part))];
        return groups.Select(g => new CalibrationStratum(g.Name, g.Texts.Count, i => Encode(tokenizer!, g.Texts[i], vocabSize))).ToList();
    }

    private static int[] Encode(Tokenization.HfTokenizer tokenizer, string text, int vocabSize)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: false).ToArray();
        foreach (int id in ids)
            if (id >= vocabSize)
                throw new MoePruneException($"--calib: the tokenizer gives id {id}, beyond the model's vocabulary of {vocabSize}");
        return ids;
    }

    /// <summary>Token-id documents of a <c>tokens:</c> file (<see cref="IO.TokenIdFile"/>), every id below <paramref name="vocabSize"/>.</summary>
    public static IReadOnlyList<int[]> TokenLines(string path, int vocabSize) => IO.TokenIdFile.Read(path, vocabSize);

    private static List<string> Paragraphs(string path)
    {
        var paragraphs = new List<string>();
        var current = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Trim().Length > 0) { current.Add(line); continue; }
            if (current.Count > 0) paragraphs.Add(string.Join("\n", current));
            current.Clear();
        }
        if (current.Count > 0) paragraphs.Add(string.Join("\n", current));
        return paragraphs;
    }

    private static List<string> JsonlTexts(string path)
    {
        var texts = new List<string>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Trim().Length == 0) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object
                    || !doc.RootElement.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                    throw new MoePruneException($"{path}:{lineNo}: expected an object with a \"text\" string");
                texts.Add(text.GetString()!);
            }
            catch (JsonException e)
            {
                throw new MoePruneException($"{path}:{lineNo}: not valid JSON ({e.Message})", inner: e);
            }
        }
        return texts;
    }
}
