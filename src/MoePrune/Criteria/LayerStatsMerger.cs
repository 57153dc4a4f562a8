namespace MoePrune.Criteria;

/// <summary>
/// Adds one layer's statistics into another: counts and sums add, bitsets OR, NAEE samples concatenate
/// (target rows first) up to the cap. Scores of the merged statistics equal the scores of one pass over
/// both inputs (up to floating-point summation order for the double sums).
/// </summary>
public static class LayerStatsMerger
{
    /// <param name="sumsOnly">Add only tokens, counts, bitsets and activation sums (gradients and NAEE
    /// samples of <paramref name="into"/> are left alone; used for a per-event delta).</param>
    public static void AddInto(LayerStats into, LayerStats from, bool sumsOnly = false)
    {
        string where = $"layer {from.LayerIndex}";
        if (into.NumExperts != from.NumExperts || into.TopK != from.TopK)
            throw new MoePruneException($"{where}: cannot merge statistics of {from.NumExperts} experts/top-{from.TopK} into {into.NumExperts} experts/top-{into.TopK}");
        CheckPart(where, "token sets", into.HasTokenSets, from.HasTokenSets, into.VocabSize, from.VocabSize);
        CheckPart(where, "activation sums", into.HasActivations, from.HasActivations, into.HiddenSize, from.HiddenSize);
        if (!sumsOnly)
            CheckPart(where, "gradients", into.HasGradients, from.HasGradients, into.GradHiddenSize * into.GradIntermediateSize, from.GradHiddenSize * from.GradIntermediateSize);
        if (!sumsOnly)
            CheckPart(where, "NAEE inputs", into.HasNaee, from.HasNaee, into.NaeeHidden, from.NaeeHidden);

        into.Tokens += from.Tokens;
        Add(into.Count, from.Count);
        Add(into.CoSelect, from.CoSelect);
        if (into.TokenSets is { } sets)
        {
            for (int e = 0; e < sets.Length; e++)
                for (int w = 0; w < sets[e].Length; w++)
                    sets[e][w] |= from.TokenSets![e][w];
        }
        if (into.HasActivations)
        {
            Add(into.SumY!, from.SumY!);
            Add(into.SumY2!, from.SumY2!);
            Add(into.SumUnit!, from.SumUnit!);
            Add(into.SumNorm!, from.SumNorm!);
            Add(into.SumGateNorm!, from.SumGateNorm!);
            Add(into.Outliers!, from.Outliers!);
        }
        if (sumsOnly)
            return;
        if (into.GradSum is { } grads)
        {
            for (int e = 0; e < grads.Length; e++)
                Add(grads[e], from.GradSum![e]);
            into.GradSteps += from.GradSteps;
        }
        if (into.HasNaee)
            AppendNaeeRows(into, from.NaeeInputs!, from.NaeeRows);
    }

    /// <summary>Appends rows (row-major, NaeeHidden wide) until the layer holds NaeeCap rows.</summary>
    public static void AppendNaeeRows(LayerStats into, ReadOnlySpan<float> rows, int rowCount)
    {
        int take = Math.Min(rowCount, into.NaeeCap - into.NaeeRows);
        if (take <= 0) return;
        int h = into.NaeeHidden;
        rows[..(take * h)].CopyTo(into.NaeeInputs.AsSpan(into.NaeeRows * h));
        into.NaeeRows += take;
    }

    private static void CheckPart(string where, string part, bool a, bool b, long sizeA, long sizeB)
    {
        if (a != b)
            throw new MoePruneException($"{where}: cannot merge statistics with {part} and statistics without");
        if (a && sizeA != sizeB)
            throw new MoePruneException($"{where}: cannot merge {part} of different sizes ({sizeB} into {sizeA})");
    }

    private static void Add(long[] a, long[] b) { for (int i = 0; i < a.Length; i++) a[i] += b[i]; }
    private static void Add(double[] a, double[] b) { for (int i = 0; i < a.Length; i++) a[i] += b[i]; }
    private static void Add(float[] a, float[] b) { for (int i = 0; i < a.Length; i++) a[i] += b[i]; }
}
