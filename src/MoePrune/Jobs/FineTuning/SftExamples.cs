using MoePrune.Training;

namespace MoePrune.Jobs.FineTuning;

/// <summary>PLACEHOLDER until the evaluation harness lands: SFT examples from a task file.</summary>
public sealed record SftExamples(IReadOnlyList<PromptAnswer> Examples, string Split, int PadId)
{
    public static SftExamples Read(string file, string tokenizerDir, int sequenceLength, int vocabSize) =>
        throw new NotImplementedException("SFT needs the evaluation harness's task reader");
}
