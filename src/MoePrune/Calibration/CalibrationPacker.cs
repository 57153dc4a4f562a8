using MoePrune.Data;
using MoePrune.Tokenization;

namespace MoePrune.Calibration;

/// <summary>
/// Packs calibration sources into N sequences of L tokens. Each source gets a share of the N sequences
/// proportional to its weight (largest remainder; ties to the earlier source). Its documents are shuffled
/// by a generator seeded with (seed, source name), tokenized in that order (without special tokens,
/// documents separated by the tokenizer's EOS when it has one) until the source's share is filled, and
/// cut into consecutive L-token sequences. A source's sequences therefore do not depend on the other
/// sources in the mix. Sequences are grouped by source, in spec order.
/// </summary>
public static class CalibrationPacker
{
    public const int DefaultSequences = 128;
    public const int DefaultLength = 256;

    /// <param name="tokenizer">Needed only for text sources; null for <c>tokens:</c>-only specs.</param>
    /// <param name="vocabSize">Every token id must be below it.</param>
    public static CalibrationSet Pack(string spec, HfTokenizer? tokenizer, int sequences, int length, int seed, int vocabSize)
    {
        if (sequences < 1) throw new MoePruneException($"--calib-seqs: {sequences} must be at least 1");
        if (length < 2) throw new MoePruneException($"--calib-len: {length} must be at least 2");
        var parts = CalibrationSpec.Parse(spec);
        var textPart = parts.FirstOrDefault(p => p.NeedsTokenizer);
        if (textPart is not null && tokenizer is null)
            throw new MoePruneException(
                $"--calib: text source '{textPart.Name}' needs a tokenizer, and the model directory has no tokenizer.json (use tokens:FILE)");
        var shares = Shares(parts.Select(p => p.Weight).ToArray(), sequences);
        var packed = new List<CalibrationSequence>();
        var uses = new List<CalibrationSourceUse>();
        for (int i = 0; i < parts.Count; i++)
        {
            var (ids, documents) = Collect(parts[i], tokenizer, (long)shares[i] * length, seed, vocabSize);
            for (int s = 0; s < shares[i]; s++)
                packed.Add(new CalibrationSequence(parts[i].Name, ids.GetRange(s * length, length).ToArray()));
            uses.Add(new CalibrationSourceUse(parts[i].Name, parts[i].Weight, shares[i], (long)shares[i] * length, documents));
        }
        return new CalibrationSet { Spec = spec, SequenceLength = length, Seed = seed, Sequences = packed, Sources = uses };
    }

    /// <summary>
    /// Packs <paramref name="spec"/> for the model in <paramref name="modelDir"/>: its <c>tokenizer.json</c> is
    /// loaded only when the spec has a text source (a missing one is then a one-line error).
    /// </summary>
    public static CalibrationSet ForModel(string modelDir, string spec, int sequences, int length, int seed, int vocabSize)
    {
        bool needsTokenizer = CalibrationSpec.Parse(spec).Any(p => p.NeedsTokenizer);
        var tokenizerPath = Path.Combine(modelDir, "tokenizer.json");
        var tokenizer = needsTokenizer && File.Exists(tokenizerPath) ? HfTokenizer.Load(tokenizerPath) : null;
        return Pack(spec, tokenizer, sequences, length, seed, vocabSize);
    }

    /// <summary>Sequences per source: ⌊N·w/Σw⌋, then the remaining ones by largest remainder (earlier source on ties).</summary>
    public static int[] Shares(double[] weights, int sequences)
    {
        double total = weights.Sum();
        var exact = weights.Select(w => sequences * w / total).ToArray();
        var shares = exact.Select(x => (int)Math.Floor(x + 1e-9)).ToArray();
        int left = sequences - shares.Sum();
        foreach (int i in Enumerable.Range(0, weights.Length).OrderByDescending(i => exact[i] - shares[i]).ThenBy(i => i).Take(left))
            shares[i]++;
        return shares;
    }

    /// <summary>The first <paramref name="needed"/> tokens of the source's shuffled document stream, and how many documents they touch.</summary>
    private static (List<int> Ids, int Documents) Collect(CalibrationPart part, HfTokenizer? tokenizer, long needed, int seed, int vocabSize)
    {
        var ids = new List<int>();
        int documents = 0, count;
        if (part.Kind == CalibrationSourceKind.TokenFile)
        {
            var docs = CalibrationDocuments.TokenLines(part.Argument, vocabSize);
            count = docs.Count;
            foreach (var doc in Shuffled(docs, seed, part.Name))
            {
                if (ids.Count >= needed) break;
                ids.AddRange(doc);
                documents++;
            }
        }
        else
        {
            var texts = CalibrationDocuments.Texts(part);
            count = texts.Count;
            foreach (var text in Shuffled(texts, seed, part.Name))
            {
                if (ids.Count >= needed) break;
                if (ids.Count > 0 && tokenizer!.EosId is { } eos) ids.Add(eos);
                ids.AddRange(tokenizer!.Encode(text, addSpecialTokens: false));
                documents++;
            }
            if (ids.Any(id => id >= vocabSize))
                throw new MoePruneException($"--calib: the tokenizer gives ids up to {ids.Max()}, beyond the model's vocabulary of {vocabSize}");
        }
        if (ids.Count == 0)
            throw new MoePruneException($"--calib: calibration source '{part.Name}' is empty ({count} documents, no tokens)");
        if (ids.Count < needed)
            throw new MoePruneException(
                $"--calib: calibration source '{part.Name}' has {ids.Count} tokens, fewer than the {needed} requested (lower --calib-seqs or --calib-len)");
        return (ids, documents);
    }

    private static List<T> Shuffled<T>(IReadOnlyList<T> docs, int seed, string source)
    {
        var order = docs.ToList();
        var rng = new SeededRandom(seed, "calibration:" + source);
        for (int i = order.Count - 1; i > 0; i--)                                       // Fisher–Yates
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
