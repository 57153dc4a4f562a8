using System.Globalization;

namespace MoePrune.IO;

/// <summary>
/// A token-id file: whitespace-separated non-negative integer ids, one sequence (document) per line; blank lines
/// are skipped. Errors name the file and the line (<c>ids.txt:3: token id 4096 is outside the vocabulary 0..4095</c>).
/// </summary>
public static class TokenIdFile
{
    /// <summary>The sequences of <paramref name="path"/> in file order; with <paramref name="vocabSize"/>, every id must be below it.</summary>
    public static List<int[]> Read(string path, int? vocabSize = null)
    {
        if (!File.Exists(path)) throw new MoePruneException($"{path}: token file not found");
        var sequences = new List<int[]>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0) continue;
            var ids = new int[fields.Length];
            for (int i = 0; i < fields.Length; i++)
            {
                if (!int.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                    throw new MoePruneException($"{path}:{lineNo}: \"{fields[i]}\" is not a token id");
                if (ids[i] >= vocabSize)
                    throw new MoePruneException($"{path}:{lineNo}: token id {ids[i]} is outside the vocabulary 0..{vocabSize - 1}");
            }
            sequences.Add(ids);
        }
        return sequences;
    }
}
