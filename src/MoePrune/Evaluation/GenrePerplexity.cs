using MoePrune.Data;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Evaluation;

/// <summary>Perplexity of one genre (or "all") of a Brown split.</summary>
public sealed record GenreResult(string Genre, int Sequences, PerplexityResult Result);

/// <summary>
/// Perplexity of a Brown split per genre. Each document is tokenized (no special tokens), followed by the
/// end-of-text token when the tokenizer has one, and cut into pieces of <c>sequenceLength</c> tokens. With
/// <c>maxPerGenre</c> only the first pieces of each genre count (documents in id order): a fixed, documented
/// subset that is cheap to recompute.
/// </summary>
public static class GenrePerplexity
{
    public static IReadOnlyList<(BrownGenre Genre, List<int[]> Sequences)> Sequences(
        HfTokenizer tokenizer, CorpusSplit split, int sequenceLength, int maxPerGenre = 0)
    {
        var corpus = BrownCorpus.Load();
        var result = new List<(BrownGenre, List<int[]>)>();
        foreach (var genre in BrownGenre.All)
        {
            var sequences = new List<int[]>();
            foreach (var document in BrownSplits.Default.Documents(corpus, split, genre))
            {
                var ids = tokenizer.Encode(document.Text, addSpecialTokens: false).ToList();
                if (tokenizer.EosId is { } eos) ids.Add(eos);
                for (int start = 0; start + 2 <= ids.Count; start += sequenceLength)
                    sequences.Add(ids.GetRange(start, Math.Min(sequenceLength, ids.Count - start)).ToArray());
                if (maxPerGenre > 0 && sequences.Count >= maxPerGenre) break;
            }
            result.Add((genre, maxPerGenre > 0 ? sequences.Take(maxPerGenre).ToList() : sequences));
        }
        return result;
    }

    /// <summary>Per-genre results followed by the pooled result named "all".</summary>
    public static List<GenreResult> Evaluate(MoeForCausalLM model, IReadOnlyList<(BrownGenre Genre, List<int[]> Sequences)> genres, int batchSize = 8)
    {
        var results = new List<GenreResult>();
        double sum = 0;
        long tokens = 0;
        foreach (var (genre, sequences) in genres)
        {
            var r = Perplexity.Evaluate(model, sequences, batchSize);
            results.Add(new GenreResult(genre.Name, sequences.Count, r));
            sum += r.MeanNll * r.Tokens;
            tokens += r.Tokens;
        }
        results.Add(new GenreResult("all", genres.Sum(g => g.Sequences.Count), new PerplexityResult(tokens, sum / tokens)));
        return results;
    }
}
