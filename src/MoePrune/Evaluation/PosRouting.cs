using MoePrune.Data;
using MoePrune.Models;
using MoePrune.Tokenization;
using static TorchSharp.torch;

namespace MoePrune.Evaluation;

/// <summary>
/// Expert choice against part of speech: the Brown split's documents (per genre, in id order, each followed by the
/// end-of-text token, cut into sequences as <see cref="GenrePerplexity.Sequences"/> cuts them) are run through the
/// model and every routed top-k assignment of a token whose word is tagged counts in [tag, expert] of its layer;
/// <see cref="MutualInformation"/> of those tables is I(expert; POS).
/// </summary>
public static class PosRouting
{
    public static int TagCount => Enum.GetValues<UniversalTag>().Length;

    public static List<TaggedTokens> Sequences(HfTokenizer tokenizer, CorpusSplit split, int sequenceLength, int maxPerGenre)
    {
        var corpus = BrownCorpus.Load();
        var result = new List<TaggedTokens>();
        foreach (var genre in BrownGenre.All)
        {
            var sequences = new List<TaggedTokens>();
            foreach (var document in BrownSplits.Default.Documents(corpus, split, genre))
            {
                var aligned = BrownTokenTags.Align(tokenizer, document);
                var ids = aligned.Ids.ToList();
                var tags = aligned.Tags.ToList();
                if (tokenizer.EosId is { } eos) { ids.Add(eos); tags.Add(BrownTokenTags.NoTag); }
                for (int start = 0; start + 2 <= ids.Count; start += sequenceLength)
                {
                    int n = Math.Min(sequenceLength, ids.Count - start);
                    sequences.Add(new TaggedTokens(ids.GetRange(start, n).ToArray(), tags.GetRange(start, n).ToArray()));
                }
                if (sequences.Count >= maxPerGenre) break;
            }
            result.AddRange(sequences.Take(maxPerGenre));
        }
        return result;
    }

    /// <summary>Counts [tag, expert] per sparse layer over the sequences (one forward each).</summary>
    public static IReadOnlyDictionary<int, long[,]> Counts(MoeForCausalLM model, IReadOnlyList<TaggedTokens> sequences)
    {
        var observer = new TokenLabelLoad(TagCount);
        model.Observers.Add(observer);
        try
        {
            using var inference = inference_mode();
            foreach (var s in sequences)
            {
                using var scope = NewDisposeScope();
                observer.Labels = s.Tags;
                using var ids = tensor(s.Ids.Select(i => (long)i).ToArray()).unsqueeze(0);  // (1, T) int64
                model.Logits(ids);                                                        // (1, T, V)
            }
        }
        finally { model.Observers.Remove(observer); }
        return observer.Counts;
    }
}
