using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>
/// KL(teacher ‖ student) of the next-token distributions, per row: Σ_v p_t(v) · (log p_t(v) − log p_s(v)),
/// both log-softmaxes in fp32. The teacher's logits carry no gradient.
/// </summary>
public static class DistillationLoss
{
    /// <param name="student">(B, T, V) any float dtype.</param>
    /// <param name="teacher">(B, T, V) any float dtype, same vocabulary.</param>
    /// <returns>(B·T) fp32 KL of each row, in the caller's dispose scope.</returns>
    public static Tensor Rows(Tensor student, Tensor teacher)
    {
        long b = student.shape[0], t = student.shape[1], v = student.shape[2];
        if (teacher.shape[2] != v)
            throw new MoePruneException($"distillation: the teacher has {teacher.shape[2]} tokens in its vocabulary, the student {v}");
        var studentLog = student.to(ScalarType.Float32).reshape(b * t, v).log_softmax(-1); // (B·T, V) fp32
        var teacherLog = teacher.detach().to(ScalarType.Float32).reshape(b * t, v).log_softmax(-1); // (B·T, V) fp32
        return (teacherLog.exp() * (teacherLog - studentLog)).sum(-1);                  // (B·T) fp32
    }
}
