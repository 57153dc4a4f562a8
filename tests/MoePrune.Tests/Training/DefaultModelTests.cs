using System.Globalization;
using MoePrune.Models;
using MoePrune.Tokenization;
using MoePrune.Training;
using MoePrune.Training.Pretrain;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Training;

/// <summary>The shipped models/default loads, and its test-subset perplexity is the one its model card states (within 1%).</summary>
public sealed class DefaultModelTests(ITestOutputHelper output)
{
    [Fact]
    public void ShippedModelMatchesItsModelCard()
    {
        string dir = DefaultModelFiles.Directory();
        string cardLine = File.ReadLines(Path.Combine(dir, "MODEL_CARD.md")).Single(l => l.StartsWith(ModelCardWriter.TestPerplexityLabel, StringComparison.Ordinal));
        double stated = double.Parse(cardLine[ModelCardWriter.TestPerplexityLabel.Length..].Split(' ')[0], CultureInfo.InvariantCulture);

        using var model = ModelLoader.Load(dir);
        Assert.Equal("mixtral", model.Config.ModelType);
        Assert.True(new FileInfo(Path.Combine(dir, "model.safetensors")).Length <= 30L << 20, "model.safetensors over 30 MB");
        var tokenizer = HfTokenizer.Load(dir);
        Assert.Equal(model.Config.VocabSize, tokenizer.VocabSize);
        TorchSharp.torch.set_num_threads(1);
        var result = PretrainEvaluation.TestSubset(model, tokenizer);
        double relative = Math.Abs(result.Perplexity - stated) / stated;
        output.WriteLine($"test-subset perplexity {result.Perplexity:F4} over {result.Tokens} tokens; card {stated}; relative diff {relative:E2}");
        Assert.True(relative < 0.01, $"perplexity {result.Perplexity} vs card {stated}");
    }
}
