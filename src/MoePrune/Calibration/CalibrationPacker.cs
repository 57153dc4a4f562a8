using MoePrune.Data;
using MoePrune.Tokenization;

namespace MoePrune.Calibration;

/// <summary>
/// Packs calibration sources into N sequences of L tokens. Each source gets a share of the N sequences
/// proportional to its weight (largest remainder; ties to the earlier source). Within a source the share is
/// spread over its strata (<see cref="CalibrationDocuments.Strata"/>: the Brown genres for <c>brown</c>) in
/// proportion to their document counts, at least one sequence per stratum when the share allows
/// (<see cref="StratumShares"/>), and each stratum's sequences are drawn across its documents by
/// <see cref="StratumSampler"/> (one window per document, seeded by (seed, source, stratum)). A source's
/// sequences therefore do not depend on the other sources in the mix. Sequences are grouped by source in spec
/// order, then by stratum.
/// </summary>
public static class CalibrationPacker
{
    public const int DefaultSequences = 128;
    public const int DefaultLength = 256;

    /// <param name="tokenizer">Needed only for text sources; null for <c>tokens:</c>-only specs.</param>
    /// <param name="vocabSize">Every token id must be below it.</param>
    public static CalibrationSet Pack(string spec, HfTokenizer? tokenizer, int sequences, int length, int seed, int vocabSize)
    {
        if (sequences < 1) throw new MoePruneException($"--calib-sequences: {sequences} must be at least 1");
        if (length < 2) throw new MoePruneException($"--calib-seq-len: {length} must be at least 2");
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
            var strata = CalibrationDocuments.Strata(parts[i], tokenizer, vocabSize);
            var counts = StratumShares(strata.Select(s => s.Count).ToArray(), shares[i]);
            var stratumUses = new List<CalibrationStratumUse>();
            for (int k = 0; k < strata.Count; k++)
            {
                if (counts[k] == 0) continue;
                string stream = strata.Count == 1 ? "calibration:" + parts[i].Name : $"calibration:{parts[i].Name}/{strata[k].Name}";
                var (drawn, documents) = StratumSampler.Sample(strata[k], counts[k], length, seed, stream,
                                                               parts[i].NeedsTokenizer ? tokenizer!.EosId : null);
                if (drawn.Count == 0) throw Short(parts[i], strata[k], documents, (long)counts[k] * length);
                packed.AddRange(drawn.Select(ids => new CalibrationSequence(parts[i].Name, ids)));
                stratumUses.Add(new CalibrationStratumUse(strata[k].Name, counts[k], (long)counts[k] * length, documents));
            }
            uses.Add(new CalibrationSourceUse(parts[i].Name, parts[i].Weight, shares[i], (long)shares[i] * length,
                                              stratumUses.Sum(u => u.Documents)) { Strata = strata.Count > 1 ? stratumUses : [] });
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

    /// <summary>
    /// Sequences per stratum: <see cref="Shares"/> by document count; then, when there are at least as many
    /// sequences as non-empty strata, every empty-handed non-empty stratum takes one from the stratum most over
    /// its proportional share (sequences per document; earlier stratum on ties).
    /// </summary>
    public static int[] StratumShares(int[] documents, int sequences)
    {
        if (documents.Sum() == 0) return documents.Select((_, i) => i == 0 ? sequences : 0).ToArray();
        var shares = Shares(documents.Select(d => (double)d).ToArray(), sequences);
        if (sequences < documents.Count(d => d > 0)) return shares;
        for (int i = 0; i < shares.Length; i++)
        {
            if (shares[i] > 0 || documents[i] == 0) continue;
            int donor = Enumerable.Range(0, shares.Length).Where(j => shares[j] > 1)
                .OrderByDescending(j => shares[j] / (double)documents[j]).ThenBy(j => j).First();
            shares[donor]--;
            shares[i]++;
        }
        return shares;
    }

    private static MoePruneException Short(CalibrationPart part, CalibrationStratum stratum, int documents, long needed) =>
        documents == 0
            ? new MoePruneException($"--calib: calibration source '{part.Name}' is empty ({stratum.Count} documents, no tokens)")
            : new MoePruneException(
                $"--calib: calibration source '{part.Name}'{(stratum.Name == part.Name ? "" : $" ({stratum.Name})")} has fewer tokens than the {needed} requested (lower --calib-sequences or --calib-seq-len)");
}
