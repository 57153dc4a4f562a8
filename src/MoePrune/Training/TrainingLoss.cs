using MoePrune.Models;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Training;

/// <summary>
/// The terms of one micro-batch's objective as fp32 scalars: <see cref="Loss"/> (what is differentiated),
/// the cross-entropy over the counted rows (unweighted, for logs), and the distillation, load-balancing and
/// z terms (null when off).
/// </summary>
public sealed record LossTerms(Tensor Loss, Tensor CrossEntropy, Tensor? Distillation, Tensor? AuxLoss, Tensor? ZLoss);

/// <summary>Computes a <see cref="LossSpec"/> on one batch (the forward included): what <see cref="Trainer"/> differentiates.</summary>
public static class TrainingLoss
{
    /// <summary>
    /// Runs <paramref name="model"/> (and, for distillation, <paramref name="teacher"/> under no_grad) on the
    /// batch. Tensors land in the caller's dispose scope.
    /// </summary>
    public static LossTerms Compute(MoeForCausalLM model, TrainingBatch batch, LossSpec spec, MoeForCausalLM? teacher = null)
    {
        var output = model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask, OutputRouterLogits: spec.NeedsRouterLogits));
        Tensor? teacherLogits = null;
        if (spec.Distillation != 0)
            using (no_grad())
                teacherLogits = teacher!.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask)).Logits; // (B, T, V)

        Tensor crossEntropy, objective;                                                 // () fp32 each
        Tensor? distillation = null;
        if (batch.TargetWeights is null && teacherLogits is null)
        {
            var nll = CausalLMLoss.Compute(output.Logits, batch.InputIds, batch.AttentionMask); // fused sum, () fp32
            crossEntropy = objective = nll.Sum / Scalars.Of(nll.Count);
        }
        else
        {
            var rows = NextTokenRows.Compute(output.Logits, batch.InputIds, batch.AttentionMask); // (B·T) each
            var weights = batch.TargetWeights is null
                ? rows.Valid.to(ScalarType.Float32)                                     // (B·T) 1 at counted rows
                : batch.TargetWeights.reshape(-1).to(ScalarType.Float32) * rows.Valid; // (B·T) 0 at rows without target
            var counted = weights.gt(Scalars.Of(0));                                                // (B·T) bool
            long count = counted.sum().item<long>();
            if (count == 0) throw new MoePruneException("training batch: no row has a target with a positive weight");
            Tensor Normalize(Tensor sum) => spec.Normalization == TargetNormalization.RowMean ? sum / Scalars.Of(count) : sum / weights.sum(); // () fp32
            crossEntropy = (rows.Nll * counted.to(ScalarType.Float32)).sum() / Scalars.Of(count);   // () fp32
            objective = Normalize((rows.Nll * weights).sum());                          // () fp32
            if (teacherLogits is not null)
                distillation = Normalize((DistillationLoss.Rows(output.Logits, teacherLogits) * weights).sum()); // () fp32
        }

        Tensor? loss = null;
        if (spec.CrossEntropy != 0) loss = spec.CrossEntropy == 1 ? objective : Scalars.Of(spec.CrossEntropy) * objective;
        if (distillation is not null && spec.Distillation != 0)
        {
            var term = spec.Distillation == 1 ? distillation : Scalars.Of(spec.Distillation) * distillation;
            loss = loss is null ? term : loss + term;
        }
        Tensor? aux = null, z = null;
        bool sparse = output.RouterLogits is { Count: > 0 };
        if (sparse && spec.AuxLossCoef != 0)
        {
            aux = spec.AuxPerLayer
                ? LoadBalancingLoss.ComputePerLayer(output.RouterLogits!, model.Config.TopK) // () fp32
                : LoadBalancingLoss.Compute(output.RouterLogits!, model.Config.TopK);       // () fp32
            loss = loss! + Scalars.Of(spec.AuxLossCoef) * aux;
        }
        if (sparse && spec.ZLossCoef != 0)
        {
            z = RouterZLoss.Compute(output.RouterLogits!);                              // () fp32
            loss = loss! + Scalars.Of(spec.ZLossCoef) * z;
        }
        return new LossTerms(loss!, crossEntropy, distillation, aux, z);
    }
}
