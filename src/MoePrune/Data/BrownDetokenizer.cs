using System.Text;

namespace MoePrune.Data;

/// <summary>
/// Joins Brown tokens into readable text. Brown writes double quotes as <c>``</c> and <c>''</c> (both become
/// <c>"</c>), single quotes as a lone <c>'</c> (or <c>`</c>) token, and punctuation as separate tokens. Rules:
/// no space before closing punctuation (<c>, . ; : ! ? ) ]</c> and closing quotes), no space after opening
/// brackets and opening quotes; a lone <c>'</c> alternates between opening and closing within one call (a paragraph).
/// This copy of the corpus doubles some punctuation tokens (<c>;/. ;/.</c>, <c>?/. ?/.</c>, <c>(/( (/(</c>, about
/// 6,000 times); a token in <see cref="Undoubled"/> equal to the one before it is dropped from the text (the
/// tagged tokens keep it).
/// </summary>
public static class BrownDetokenizer
{
    static readonly HashSet<string> NoSpaceBefore = [",", ".", ";", ":", "!", "?", ")", "]", "}", "''", "%"];
    static readonly HashSet<string> NoSpaceAfter = ["(", "[", "{", "``"];
    public static readonly IReadOnlySet<string> Undoubled = new HashSet<string> { ";", "?", "!", ":", "(", ")" };

    /// <summary>Consecutive sentences as one token stream (a ")" opening the next sentence still closes up).</summary>
    public static string Join(IEnumerable<BrownSentence> sentences) => Join(sentences.SelectMany(s => s.Words).Select(w => w.Word));

    public static string Join(IEnumerable<string> tokens) => Join(tokens, out _);

    /// <summary>
    /// As <see cref="Join(IEnumerable{string})"/>, also giving each token's first character in the text
    /// (−1 for a dropped doubled token); a token's text is its rendering (<c>``</c> → <c>"</c>).
    /// </summary>
    public static string Join(IEnumerable<string> tokens, out int[] starts)
    {
        var sb = new StringBuilder();
        var positions = new List<int>();
        bool glueNext = true;      // no space before the next token (start of text, or after an opener)
        bool singleOpen = false;
        string? previous = null;
        foreach (string token in tokens)
        {
            if (token == previous && Undoubled.Contains(token)) { positions.Add(-1); continue; }
            previous = token;
            bool opener = NoSpaceAfter.Contains(token) || token == "`";
            bool closer = NoSpaceBefore.Contains(token);
            if (token == "`") singleOpen = true;
            else if (token == "'")
            {
                opener = !singleOpen;
                closer = singleOpen;
                singleOpen = !singleOpen;
            }
            if (!glueNext && !closer) sb.Append(' ');
            positions.Add(sb.Length);
            sb.Append(Render(token));
            glueNext = opener;
        }
        starts = positions.ToArray();
        return sb.ToString();
    }

    public static string Render(string token) => token switch
    {
        "``" or "''" => "\"",
        "`" => "'",
        _ => token,
    };
}
