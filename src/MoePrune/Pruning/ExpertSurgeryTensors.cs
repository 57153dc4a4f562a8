using System.Text.RegularExpressions;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// The state dict of a pruned model, produced lazily from the original model and a resolved plan: every
/// tensor that the plan does not touch is yielded as a detached alias of the live parameter (no copy);
/// the routed experts of each sparse layer are yielded under their new slot numbers; the router is the
/// original <c>gate.weight</c> with rows gathered in slot order and custom rows written in. Every yielded
/// tensor is a fresh handle that the consumer disposes.
/// </summary>
internal static partial class ExpertSurgeryTensors
{
    [GeneratedRegex(@"^model\.layers\.(\d+)\.([A-Za-z_]+)\.(experts\.\d+\.|gate\.weight$)")]
    private static partial Regex RoutedName();

    public static IEnumerable<KeyValuePair<string, Tensor>> Stream(MoeForCausalLM model, ResolvedExpertPlan plan)
    {
        var moduleName = model.Config.Family.MoeModuleName;
        var emitted = new HashSet<int>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var m = RoutedName().Match(name);
            if (!m.Success || m.Groups[2].Value != moduleName)
            {
                yield return new(name, parameter.detach());                              // untouched, alias
                continue;
            }
            int layer = int.Parse(m.Groups[1].Value);
            var slots = plan.Slots[layer];
            string prefix = $"model.layers.{layer}.{moduleName}.";
            if (m.Groups[3].Value == "gate.weight")
            {
                yield return new(prefix + "gate.weight", Router(parameter, slots, model.Dtype)); // (E', H)
                continue;
            }
            if (!emitted.Add(layer)) continue;                                          // layer's experts already yielded
            foreach (var item in Experts(model, layer, prefix, slots)) yield return item;
        }
    }

    /// <summary>The experts of one layer in slot order, with the family's projection names.</summary>
    private static IEnumerable<KeyValuePair<string, Tensor>> Experts(MoeForCausalLM model, int layer, string prefix, ExpertSlot[] slots)
    {
        var view = model.Model.Layers[layer].Moe!;
        var (gate, up, down) = model.Config.Family.ExpertProjNames;
        for (int s = 0; s < slots.Length; s++)
        {
            var slot = slots[s];
            string p = $"{prefix}experts.{s}.";
            if (slot.Custom is { } c)
            {
                yield return new(p + gate + ".weight", Copy(c.GateProj, model.Dtype));   // (I, H)
                yield return new(p + up + ".weight", Copy(c.UpProj, model.Dtype));       // (I, H)
                yield return new(p + down + ".weight", Copy(c.DownProj, model.Dtype));   // (H, I)
                continue;
            }
            yield return new(p + gate + ".weight", view.GateProj(slot.Original).detach()); // (I, H) alias
            yield return new(p + up + ".weight", view.UpProj(slot.Original).detach());     // (I, H) alias
            yield return new(p + down + ".weight", view.DownProj(slot.Original).detach()); // (H, I) alias
        }
    }

    /// <summary>Router rows in slot order: original rows gathered, custom rows written in. (E', H)</summary>
    private static Tensor Router(Tensor weight, ExpertSlot[] slots, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var order = tensor(slots.Select(s => (long)s.Original).ToArray());             // (E') int64
        var rows = weight.detach().index_select(0, order);                               // (E', H) new tensor
        for (int s = 0; s < slots.Length; s++)
            if (slots[s].Custom is { } c)
                rows[s].copy_(c.RouterRow.detach().reshape(-1));                         // (H), converts dtype
        return rows.to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>A contiguous CPU copy of a caller's tensor in the model dtype (the caller keeps ownership).</summary>
    private static Tensor Copy(Tensor t, ScalarType dtype)
    {
        using var noGrad = no_grad();
        return t.detach().to(dtype, CPU, copy: true).contiguous();
    }
}
