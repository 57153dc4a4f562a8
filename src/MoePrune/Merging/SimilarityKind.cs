namespace MoePrune.Merging;

/// <summary>How experts are compared (docs/MERGING.md §1). Every measure gives larger = more alike.</summary>
public enum SimilarityKind
{
    /// <summary>CKA between the experts' outputs on the same tokens, router bypassed (data-centric).</summary>
    Cka,
    /// <summary>−MSE between the flattened, concatenated gate/up/down weights (model-centric).</summary>
    Weights,
    /// <summary>−MSE between the experts' H × H surrogate linear maps (model-centric).</summary>
    Surrogate,
    /// <summary>Cosine between router rows.</summary>
    Router,
    /// <summary>Cosine between the experts' router-logit columns over the calibration tokens (M-SMoE).</summary>
    RouterLogits,
    /// <summary>Cosine between the experts' mean outputs over the calibration tokens (HC-SMoE).</summary>
    OutputMean,
}

/// <summary>The user-facing names of <see cref="SimilarityKind"/> (also the <c>kind</c> of a <see cref="SimilarityMatrix"/>).</summary>
public static class SimilarityKinds
{
    private static readonly (SimilarityKind Kind, string Name)[] Names =
    [
        (SimilarityKind.Cka, "cka"), (SimilarityKind.Weights, "weights"), (SimilarityKind.Surrogate, "surrogate"),
        (SimilarityKind.Router, "router"), (SimilarityKind.RouterLogits, "router-logits"), (SimilarityKind.OutputMean, "output-mean"),
    ];

    public static string Name(SimilarityKind kind) => Names.First(n => n.Kind == kind).Name;

    public static IEnumerable<string> All => Names.Select(n => n.Name);

    /// <summary>Parses a name; <paramref name="source"/> names the option or file in the error.</summary>
    public static SimilarityKind Parse(string name, string source)
    {
        foreach (var (kind, n) in Names)
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) return kind;
        throw new MoePruneException($"{source}: unknown similarity '{name}' (expected {string.Join(", ", All)})");
    }

    /// <summary>Whether the measure runs on the calibration inputs (and so needs the layer's input sample).</summary>
    public static bool NeedsInputs(SimilarityKind kind) =>
        kind is SimilarityKind.Cka or SimilarityKind.RouterLogits or SimilarityKind.OutputMean;
}
