using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Tokenization;

namespace MoePrune.Studies;

/// <summary>
/// The fixed evaluation subset every row of a study is measured on: the first N pieces of 256 tokens of each
/// genre of the Brown validation split, cut exactly as the model card's evaluation cuts them
/// (<see cref="GenrePerplexity.Sequences"/>: documents in id order, each followed by end-of-text), pooled over
/// genres; or the sequences of a token-id file.
/// </summary>
public sealed record StudyEvaluationSet(string Description, IReadOnlyList<int[]> Sequences)
{
    public const int SequenceLength = 256;

    /// <summary>Tokens that are predicted (each sequence's length minus one).</summary>
    public long PredictedTokens => Sequences.Sum(s => (long)Math.Max(0, s.Length - 1));

    public static StudyEvaluationSet For(string modelDir, int perGenre, string? tokensFile)
    {
        if (tokensFile is not null)
            return new StudyEvaluationSet($"token file {Path.GetFileName(tokensFile)}", Perplexity.ReadTokenFile(tokensFile));
        var tokenizer = HfTokenizer.Load(modelDir);
        var genres = GenrePerplexity.Sequences(tokenizer, CorpusSplit.Validation, SequenceLength, perGenre);
        var sequences = genres.SelectMany(g => g.Sequences).ToList();
        return new StudyEvaluationSet(
            $"Brown validation split, first {perGenre} sequence(s) of {SequenceLength} tokens of each of the {genres.Count} genres", sequences);
    }
}
