using MoePrune.Data;

namespace MoePrune.Training.Pretrain;

/// <summary>What a pretraining run reads: the mix's token stream, wrapped by the curriculum's sources.</summary>
public static class PretrainData
{
    /// <summary>
    /// The packed mix; with <see cref="PretrainCurriculum.LetteredWarmupSteps"/> a lettered warm-up before it, and
    /// with an <see cref="PretrainCurriculum.AnswerWeight"/> other than 1 the answer-token weights on every batch.
    /// </summary>
    public static ITrainingData Build(PretrainOptions options, PretrainCorpus corpus, Action<string>? log = null)
    {
        var curriculum = options.Curriculum;
        ITrainingData data = new PackedDataset(corpus.TrainTokens, options.SequenceLength, options.Seed);
        if (curriculum.LetteredWarmupSteps > 0)
        {
            long tokens = curriculum.LetteredWarmupSteps * options.TokensPerStep + options.SequenceLength;
            var warmup = new PackedDataset(LetteredWarmupSource.Stream(corpus, tokens, options.Seed), options.SequenceLength, options.Seed);
            log?.Invoke($"lettered warm-up: {curriculum.LetteredWarmupSteps} steps on {warmup.SequenceCount:N0} sequences of find-the-word questions");
            data = new LetteredWarmupSource(warmup, data, curriculum.LetteredWarmupSteps);
        }
        if (curriculum.AnswerWeight != 1)
        {
            var marker = corpus.Tokenizer.Encode(InstructionTemplates.AnswerMarker + "\n", addSpecialTokens: false).Select(i => (long)i).ToList();
            log?.Invoke($"answer marker tokens [{string.Join(", ", marker)}]: the next token weighs {curriculum.AnswerWeight}");
            if (marker.Count > 0) data = new AnswerWeightedSource(data, marker, curriculum.AnswerWeight);
        }
        return data;
    }
}
