using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Training;

namespace MoePrune.Jobs.FineTuning;

/// <summary>
/// The training data of one fine-tune: a calibration-style spec packed into sequences (<see cref="CalibrationPacker"/>,
/// train splits; as many sequences as the budget reads, at most <see cref="FineTuneSpec.PoolSequences"/>, visited in
/// seeded epochs), or an SFT task file (<see cref="SftExamples"/>: prompt + answer, loss on the answer only).
/// </summary>
public static class FineTuneData
{
    /// <param name="tokenizerDir">Directory whose tokenizer.json tokenizes text sources and task files.</param>
    /// <param name="tokens">This fine-tune's budget (decides how many sequences are packed).</param>
    /// <param name="seed">Seed of the packing and the epoch order.</param>
    public static (ITrainingData Data, JsonObject Description) Build(FineTuneSpec spec, string tokenizerDir, int vocabSize, long tokens, int seed)
    {
        if (spec.SftFile is { } file)
        {
            var examples = SftExamples.Read(file, tokenizerDir, spec.SequenceLength, vocabSize);
            var data = new PromptAnswerDataset(examples.Examples, spec.SequenceLength, seed, examples.PadId);
            return (data, new JsonObject
            {
                ["sft"] = Path.GetFullPath(file), ["split"] = examples.Split, ["documents"] = examples.Examples.Count,
                ["answer_tokens"] = examples.Examples.Sum(e => (long)e.Answer.Length), ["seed"] = seed,
            });
        }
        long perSequence = spec.SequenceLength;
        int sequences = (int)Math.Min(spec.PoolSequences, (tokens + perSequence - 1) / perSequence);
        var set = CalibrationPacker.ForModel(tokenizerDir, spec.Data, Math.Max(1, sequences), spec.SequenceLength, seed, vocabSize);
        var stream = set.Sequences.SelectMany(s => s.Ids).ToArray();
        var description = set.ToJson();
        description["epochs"] = (double)tokens / set.Tokens;
        return (new PackedDataset(stream, spec.SequenceLength, seed), description);
    }
}
