namespace MoePrune.Data;

/// <summary>
/// Splits a WordNet gloss (<c>definition; "example one"; "example two"</c>) into its definition and examples. The
/// definition is everything before the first double quote, without trailing <c>;</c>; the examples are the
/// double-quoted passages in order (attributions after a closing quote, such as <c>- Shakespeare</c>, are dropped).
/// </summary>
public static class WordNetGloss
{
    public static (string Definition, IReadOnlyList<string> Examples) Split(string gloss)
    {
        string text = gloss.Trim();
        int firstQuote = text.IndexOf('"');
        if (firstQuote < 0) return (TrimDefinition(text), []);
        string definition = TrimDefinition(text[..firstQuote]);
        var examples = new List<string>();
        int i = firstQuote;
        while (i >= 0 && i < text.Length)
        {
            int close = text.IndexOf('"', i + 1);
            if (close < 0)
            {
                string tail = text[(i + 1)..].Trim();
                if (tail.Length > 0) examples.Add(tail);
                break;
            }
            string example = text[(i + 1)..close].Trim();
            if (example.Length > 0) examples.Add(example);
            i = text.IndexOf('"', close + 1);
        }
        return (definition, examples);
    }

    static string TrimDefinition(string s) => s.Trim().TrimEnd(';', ':', ',').Trim();
}
