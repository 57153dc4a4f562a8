using MoePrune.Data;

namespace MoePrune.Training.Pretrain;

/// <summary>
/// A curriculum: the first <see cref="Steps"/> optimizer steps read lettered find-the-word questions
/// (<see cref="Stream"/>) by micro-batch index, so a resumed run reads the same batches; from then on the main
/// source, starting at its position 0 (the data position does not advance during the warm-up).
/// </summary>
public sealed class LetteredWarmupSource(PackedDataset warmup, ITrainingData main, int steps) : ITrainingData
{
    public int Steps { get; } = steps;
    public int SequenceLength => main.SequenceLength;

    public TrainingBatch Read(DataCursor at, int batchSize) =>
        at.Step < Steps
            ? new TrainingBatch(warmup.Batch(at.MicroBatch * batchSize, batchSize), at.Position) // (B, T) int64
            : main.Read(at, batchSize);

    /// <summary>
    /// The warm-up stream: find-the-word questions ("Which option is the noun dog?", <see cref="QuestionFactory.FindWord"/>)
    /// about trainable lemmas only — every lemma once per round, rounds in their own seeded order, distractors and answer
    /// letters drawn per question — each followed by the end-of-text token, until the stream holds at least
    /// <paramref name="tokens"/> tokens.
    /// </summary>
    public static int[] Stream(PretrainCorpus corpus, long tokens, long seed, KnowledgeSet? knowledge = null)
    {
        var trainable = (knowledge ?? KnowledgeSet.Default).Trainable.ToList();
        var rng = new SeededRandom(seed, "lettered-warmup");
        var all = new List<int>();
        for (int round = 0; all.Count < tokens; round++)
            foreach (var entry in StableHash.Shuffle(trainable, seed, e => $"warmup{round}:{e.Lemma}:{e.Pos}"))
            {
                all.AddRange(corpus.Tokenizer.Encode(QuestionFactory.FindWord(entry, trainable, rng).Text, addSpecialTokens: false));
                all.Add(corpus.EndOfText);
            }
        return all.ToArray();
    }
}
