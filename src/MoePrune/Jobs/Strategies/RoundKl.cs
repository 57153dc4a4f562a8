using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Training;
using static TorchSharp.torch;

namespace MoePrune.Jobs.Strategies;

/// <summary>KL(parent ‖ model) of the next-token distributions over every predicted position of fixed sequences.</summary>
public static class RoundKl
{
    public static JsonNode? Measure(MoeForCausalLM model, MoeForCausalLM parent, IReadOnlyList<int[]> sequences)
    {
        double sum = 0;
        long positions = 0, agree = 0;
        using var inference = inference_mode();
        foreach (var chunk in sequences.Where(s => s.Length >= 2).Chunk(8))
        {
            using var scope = NewDisposeScope();
            using var batch = TokenBatch.Pad(chunk);
            var student = model.Logits(batch.InputIds, batch.AttentionMask);                // (B, T, V)
            var teacher = parent.Logits(batch.InputIds, batch.AttentionMask);               // (B, T, V)
            var valid = batch.AttentionMask.to(ScalarType.Bool).narrow(1, 1, batch.AttentionMask.shape[1] - 1); // (B, T−1) rows with a next token
            long t = student.shape[1] - 1;
            var kl = DistillationLoss.Rows(student.narrow(1, 0, t), teacher.narrow(1, 0, t)); // (B·(T−1)) fp32
            var mask = valid.reshape(-1);                                                   // (B·(T−1)) bool
            sum += kl.masked_select(mask).to(ScalarType.Float64).sum().item<double>();
            positions += mask.sum().item<long>();
            var same = student.narrow(1, 0, t).argmax(-1).eq(teacher.narrow(1, 0, t).argmax(-1)).reshape(-1); // (B·(T−1)) bool
            agree += same.logical_and(mask).sum().item<long>();
        }
        return new JsonObject { ["mean"] = sum / positions, ["top1_agreement"] = (double)agree / positions, ["positions"] = positions };
    }
}
