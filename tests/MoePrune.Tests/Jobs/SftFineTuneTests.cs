using System.Text.Json.Nodes;
using MoePrune.Jobs.FineTuning;
using MoePrune.Models;
using MoePrune.Native;
using MoePrune.Tests.IO;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>
/// <c>finetune --sft</c>: the loss of a step is the mean NLL of the answer tokens only, computed here independently
/// (each document alone, unpadded, answer tokens found by encoding context and context + answer), so prompt tokens and
/// padding contribute nothing; the train split is used when the file has one.
/// </summary>
public class SftFineTuneTests(ITestOutputHelper output)
{
    /// <summary>A tiny mixtral with the default model's vocabulary and tokenizer.</summary>
    static string TinyWithTokenizer(string dir)
    {
        TorchNative.EnsureLoaded();
        var config = TinyCheckpoint.Config("mixtral", hidden: 32, layers: 2, experts: 4, topK: 2, expertSize: 24, vocab: 4096);
        using var model = TinyCheckpoint.Random(config, seed: 9);
        ModelLoader.Save(model, dir);
        File.Copy(DefaultModelFiles.TokenizerJson, Path.Combine(dir, "tokenizer.json"));
        return dir;
    }

    static readonly (string Context, string Answer, string Split)[] Documents =
    [
        ("### Question:\nWhich noun means \"a domestic animal\"?\nA. dog\nB. tree\nC. house\nD. car\n### Answer", "A", "train"),
        ("### Question:\nWhich verb means \"move fast on foot\"?\nA. sit\nB. run\nC. eat\nD. sleep\n### Answer", "B", "train"),
        ("The capital of France is", "Paris", "train"),
        ("A long test question that must not be trained on", "D", "test"),
    ];

    [Fact]
    public void TheLossIsTheMeanNllOfTheAnswerTokensOfTheTrainDocuments()
    {
        using var tmp = new TempDir();
        var modelDir = TinyWithTokenizer(tmp["m"]);
        var lines = Documents.Select((d, i) => new JsonObject
        {
            ["id"] = $"d{i}", ["context"] = d.Context, ["choices"] = new JsonArray("A", "B", "C", "D", d.Answer), ["gold"] = 4,
            ["split"] = d.Split, ["target_delimiter"] = d.Context.EndsWith("Answer") ? ":\n" : " ",
        }.ToJsonString());
        File.WriteAllLines(tmp["sft.jsonl"], lines);
        var spec = new FineTuneSpec { Tokens = 3L * 64, SftFile = tmp["sft.jsonl"], SequenceLength = 64, BatchSize = 3, Optimizer = new() { LearningRate = 1e-3 } };
        var record = FinetuneJob.Run(new FinetuneRequest { ModelDir = modelDir, OutDir = tmp["out"], Spec = spec, WorkDir = tmp["w"] });
        double trained = (double)record["result"]!["cross_entropy"]![0]!;
        Assert.Equal("train", (string)record["result"]!["data"]!["split"]!);
        Assert.Equal(3, (int)record["result"]!["data"]!["documents"]!);

        // independent: each train document alone, the answer's tokens are what context + answer adds to the context's encoding
        var tokenizer = HfTokenizer.Load(modelDir);
        using var model = ModelLoader.Load(modelDir);
        double sum = 0;
        int count = 0;
        using (no_grad())
            foreach (var (context, answer, split) in Documents.Where(d => d.Split == "train"))
            {
                string delimiter = context.EndsWith("Answer") ? ":\n" : " ";
                var head = tokenizer.Encode(context, addSpecialTokens: false).ToArray();
                var whole = tokenizer.Encode(context + delimiter + answer, addSpecialTokens: false).ToArray();
                Assert.Equal(head, whole[..head.Length]);
                var ids = tensor(whole.Select(x => (long)x).ToArray()).unsqueeze(0);          // (1, T)
                var logp = model.Logits(ids).log_softmax(-1)[0];                               // (T, V)
                for (int t = head.Length; t < whole.Length; t++)
                {
                    sum -= logp[t - 1, whole[t]].item<float>();
                    count++;
                }
            }
        double expected = sum / count;
        output.WriteLine($"first step's loss {trained:F6}; answer-token NLL computed alone {expected:F6} over {count} tokens; |diff| {Math.Abs(trained - expected):E2}");
        Assert.True(Math.Abs(trained - expected) < 1e-4, $"{trained} vs {expected}");
    }
}

/// <summary>Generative SFT documents are trained after the prompt exactly as generation reads it (trailing newline included).</summary>
public class SftGenerativePromptTests(ITestOutputHelper output)
{
    [Fact]
    public void TheAnswerFollowsThePromptGenerationSees()
    {
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        var encoder = new MoePrune.Evaluation.LogLikelihood.ContinuationEncoder(tokenizer);
        const string context = "### Question:\nWhich noun means \"a domestic animal\"?\nA. dog\nB. tree\nC. house\nD. car\n### Answer:\n";
        var request = SftExamples.AfterPrompt(encoder, context, "A\n");
        var prompt = encoder.EncodePrompt(context);
        output.WriteLine($"prompt ends {string.Join(" ", prompt[^3..])}; answer {string.Join(" ", request.Continuation)} = \"{tokenizer.Decode(request.Continuation).Replace("\n", "\\n")}\"");
        Assert.Equal(prompt, request.Context);
        Assert.False(request.Merged);
        Assert.Equal("A\n", tokenizer.Decode(request.Continuation));
        Assert.Equal(tokenizer.Encode(context + "A\n", addSpecialTokens: false).ToArray(), request.Context.Concat(request.Continuation).ToArray());
    }
}
