namespace MoePrune.Data;

/// <summary>
/// One of the 15 Brown corpus categories: its file letter (<c>ca01</c> is category A), the short name used by
/// the corpus's <c>cats.txt</c> (and by calibration specs such as <c>brown:news</c>), and a readable name
/// used in prompts.
/// </summary>
public sealed record BrownGenre(char Code, string Name, string DisplayName)
{
    /// <summary>The 15 categories in the corpus's own order (A–R without I, O, Q).</summary>
    public static readonly IReadOnlyList<BrownGenre> All =
    [
        new('A', "news", "press reportage"),
        new('B', "editorial", "press editorial"),
        new('C', "reviews", "press reviews"),
        new('D', "religion", "religion"),
        new('E', "hobbies", "skills and hobbies"),
        new('F', "lore", "popular lore"),
        new('G', "belles_lettres", "belles-lettres"),
        new('H', "government", "government documents"),
        new('J', "learned", "learned and scientific writing"),
        new('K', "fiction", "general fiction"),
        new('L', "mystery", "mystery and detective fiction"),
        new('M', "science_fiction", "science fiction"),
        new('N', "adventure", "adventure and western fiction"),
        new('P', "romance", "romance and love story"),
        new('R', "humor", "humor"),
    ];

    /// <summary>The genre for a <c>cats.txt</c> name (<c>news</c>) or a code letter (<c>A</c>, either case).</summary>
    public static BrownGenre Parse(string nameOrCode)
    {
        var hit = All.FirstOrDefault(g => g.Name.Equals(nameOrCode, StringComparison.OrdinalIgnoreCase)
                                          || (nameOrCode.Length == 1 && char.ToUpperInvariant(nameOrCode[0]) == g.Code));
        return hit ?? throw new MoePruneException(
            $"unknown Brown genre '{nameOrCode}'; expected one of {string.Join(", ", All.Select(g => g.Name))} or a code letter");
    }

    /// <summary>The genre of a document id such as <c>ca01</c> (second letter).</summary>
    public static BrownGenre OfDocumentId(string id) =>
        id.Length >= 2 ? Parse(id[1].ToString()) : throw new MoePruneException($"'{id}' is not a Brown document id");

    public override string ToString() => Name;
}
