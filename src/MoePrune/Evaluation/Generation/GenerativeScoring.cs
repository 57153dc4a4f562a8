using System.Text.Json.Nodes;
using MoePrune.Evaluation.Tasks;
using MoePrune.Generation;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Evaluation.Generation;

/// <summary>One generative document: the generation (cut before its first stop string), the answer read from it, and whether that answer is right.</summary>
public sealed record GenerativeOutcome(GenerativeDocument Document, string Generation, string? Extracted, bool Correct)
{
    /// <summary>An answer could be read at all (the model followed the answer format).</summary>
    public bool FormatOk => Extracted is not null;
}

/// <summary>
/// Greedy generation for generative documents: prompts cut on the left so that prompt + <c>max_new_tokens</c> fit the
/// model's positions, sorted by length and decoded in batches (<see cref="RowBatches"/>, <see cref="GreedyDecoder"/>); a sequence stops at the
/// end-of-sequence token, at its own token limit, or as soon as its decoded text contains one of its stop strings.
/// The text is then cut before the earliest stop string and the answer extracted (<see cref="AnswerExtraction"/>).
/// </summary>
public static class GenerativeScoring
{
    public static IReadOnlyList<GenerativeOutcome> Run(MoeForCausalLM model, HfTokenizer tokenizer,
                                                       IReadOnlyList<(GenerativeDocument Document, int[] Prompt)> items,
                                                       int batchSize, int maxLength, Action<int>? progress = null, int batchTokens = 0)
    {
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        var eos = EosIds(model, tokenizer);
        var outcomes = new GenerativeOutcome[items.Count];
        var prompts = items.Select(x => Truncate(x.Prompt, Math.Max(1, maxLength - x.Document.MaxNewTokens))).ToArray();
        var order = Enumerable.Range(0, items.Count).OrderByDescending(i => prompts[i].Length).ThenBy(i => i).ToList();
        int done = 0;
        foreach (var chunk in RowBatches.Split(order, i => prompts[i].Length + items[i].Document.MaxNewTokens, batchSize, batchTokens))
        {
            var docs = chunk.Select(i => items[i].Document).ToArray();
            var options = new GenerationOptions(docs.Max(d => d.MaxNewTokens), eos, chunk.Length);
            var generated = GreedyDecoder.Generate(model, chunk.Select(i => prompts[i]).ToList(), options,
                (k, ids) => ids.Count >= docs[k].MaxNewTokens || ContainsStop(tokenizer.Decode(ids, skipSpecialTokens: true), docs[k].Stop));
            for (int k = 0; k < chunk.Length; k++)
            {
                var doc = docs[k];
                string text = CutAtStop(tokenizer.Decode(generated[k], skipSpecialTokens: true), doc.Stop);
                string? extracted = AnswerExtraction.Extract(text, doc.Extract, doc.Letters);
                outcomes[chunk[k]] = new GenerativeOutcome(doc, text, extracted, AnswerExtraction.Matches(extracted, doc.Answers, doc.Extract));
            }
            done += chunk.Length;
            progress?.Invoke(done);
        }
        return outcomes;
    }

    /// <summary>The text before the earliest occurrence of any stop string (all of it when none occurs).</summary>
    public static string CutAtStop(string text, IReadOnlyList<string> stops)
    {
        int cut = text.Length;
        foreach (string s in stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && at < cut) cut = at;
        }
        return text[..cut];
    }

    static bool ContainsStop(string text, IReadOnlyList<string> stops) => stops.Any(s => text.Contains(s, StringComparison.Ordinal));

    /// <summary>Keeps the last <paramref name="length"/> tokens.</summary>
    public static int[] Truncate(int[] prompt, int length) => prompt.Length <= length ? prompt : prompt[^length..];

    /// <summary>The tokenizer's EOS and the config's <c>eos_token_id</c> (a number or a list).</summary>
    public static IReadOnlyCollection<int> EosIds(MoeForCausalLM model, HfTokenizer tokenizer)
    {
        var ids = new HashSet<int>();
        if (tokenizer.EosId is int e) ids.Add(e);
        switch (model.Config.Source["eos_token_id"])
        {
            case JsonValue v when v.TryGetValue<int>(out int id): ids.Add(id); break;
            case JsonArray a:
                foreach (var n in a)
                    if (n is JsonValue x && x.TryGetValue<int>(out int id2)) ids.Add(id2);
                break;
        }
        return ids;
    }
}
