using MoePrune.Calibration;
using MoePrune.Evaluation;
using MoePrune.IO;
using Xunit;

namespace MoePrune.Tests.IO;

/// <summary>The one token-id file reader, and that perplexity and calibration both go through it.</summary>
public class TokenIdFileTests
{
    [Fact]
    public void ReadsSequencesAndNamesTheFileAndLineOfEveryError()
    {
        using var dir = new TempDir();
        string path = dir["ids.txt"];
        File.WriteAllText(path, "1 2  3\n\n   \n4\t5\n");
        Assert.Equal([[1, 2, 3], [4, 5]], TokenIdFile.Read(path, vocabSize: 6));
        Assert.Equal(TokenIdFile.Read(path), Perplexity.ReadTokenFile(path));
        Assert.Equal(TokenIdFile.Read(path), CalibrationDocuments.TokenLines(path, 4096));

        File.WriteAllText(path, "1 2\n\n3 4096 5\n");
        Assert.Equal($"{path}:3: token id 4096 is outside the vocabulary 0..4095",
                     Assert.Throws<MoePruneException>(() => TokenIdFile.Read(path, 4096)).Message);
        Assert.Equal($"{path}:3: token id 4096 is outside the vocabulary 0..4095",
                     Assert.Throws<MoePruneException>(() => CalibrationDocuments.TokenLines(path, 4096)).Message);
        Assert.Equal([[1, 2], [3, 4096, 5]], TokenIdFile.Read(path));                     // no vocabulary: no check

        File.WriteAllText(path, "1\n-2\n");
        Assert.Equal($"{path}:2: \"-2\" is not a token id", Assert.Throws<MoePruneException>(() => TokenIdFile.Read(path)).Message);
        File.WriteAllText(path, "99999999999\n");
        Assert.Equal($"{path}:1: \"99999999999\" is not a token id", Assert.Throws<MoePruneException>(() => TokenIdFile.Read(path)).Message);
        Assert.Equal($"{dir["none.txt"]}: token file not found", Assert.Throws<MoePruneException>(() => TokenIdFile.Read(dir["none.txt"])).Message);
        File.WriteAllText(path, "\n\n");
        Assert.Empty(TokenIdFile.Read(path));
        Assert.Equal($"{path}: no token sequences", Assert.Throws<MoePruneException>(() => Perplexity.ReadTokenFile(path)).Message);
    }
}
