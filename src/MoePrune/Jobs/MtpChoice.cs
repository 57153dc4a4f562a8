using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;

namespace MoePrune.Jobs;

/// <summary>
/// What a round does to the model's MTP layers (DeepSeek-V3 / GLM-4.5 <c>num_nextn_predict_layers</c>): they share
/// <c>n_routed_experts</c> with the main layers, so a result keeps them consistent. Either they are pruned to the main
/// layers' count by <see cref="MtpExpertSelection.ByWeightNorm"/> (<see cref="WeightNormRule"/>: weight-only, not
/// calibrated, since MoePrune does not run the MTP forward), or dropped (<see cref="DroppedRule"/>: the export has no
/// MTP layer and <c>num_nextn_predict_layers: 0</c>). Removal, merging or any other job that changes the main layers'
/// expert count adds it to its plan (<see cref="KeepPlan"/>, or <see cref="AddTo"/> and
/// <see cref="ExpertPlan.DropMtpLayers"/> for a plan with replaced experts).
/// </summary>
/// <param name="Rule"><see cref="WeightNormRule"/> or <see cref="DroppedRule"/>.</param>
/// <param name="Selections">Per MTP layer, the experts kept (current slot indices); empty when dropped.</param>
public sealed record MtpChoice(string Rule, SortedDictionary<int, LayerSelection> Selections)
{
    public const string WeightNormRule = "weight-norm";
    public const string DroppedRule = "dropped";

    /// <summary>What pruning.json says about the rule.</summary>
    public const string WeightNormNote = "MTP experts kept by weight norm ||[gate|up|down]|| (EWN) within each routing group, "
                                         + "the main layers' count; weight-only, not calibrated (MoePrune does not run the MTP forward)";

    public bool Dropped => Rule == DroppedRule;

    /// <summary>
    /// The MTP rule for <paramref name="model"/> when its main layers end with <paramref name="keptCount"/> experts: drop
    /// them (<paramref name="drop"/>) or keep that many by weight norm; null when the model has no MTP layer.
    /// </summary>
    public static MtpChoice? For(MoeForCausalLM model, int keptCount, bool drop)
    {
        if (model.Config.NumMtpLayers == 0) return null;
        using var source = new ModelTensorSource(model);
        return For(source, keptCount, drop);
    }

    /// <summary>As above from any tensor source (a checkpoint read tensor by tensor, FP8 dequantized for the norms).</summary>
    public static MtpChoice? For(ITensorSource source, int keptCount, bool drop)
    {
        if (source.Config.NumMtpLayers == 0) return null;
        if (drop) return new MtpChoice(DroppedRule, []);
        return new MtpChoice(WeightNormRule, MtpExpertSelection.ByWeightNorm(source, keptCount));
    }

    /// <summary>
    /// Adds the MTP layers' kept experts to <paramref name="kept"/> (layer → kept slots, as <see cref="ExpertPlan.Keep"/>
    /// takes); a plan built from it must also set <see cref="ExpertPlan.DropMtpLayers"/> to <see cref="Dropped"/>.
    /// </summary>
    public void AddTo(IDictionary<int, IReadOnlyList<int>> kept)
    {
        foreach (var (layer, s) in Selections) kept[layer] = s.Kept;
    }

    /// <summary>A removal plan of <paramref name="main"/>'s kept experts plus the MTP layers' (or dropping them) when <paramref name="mtp"/> is given.</summary>
    public static ExpertPlan KeepPlan(IEnumerable<LayerSelection> main, MtpChoice? mtp)
    {
        var kept = main.ToDictionary(s => s.LayerIndex, s => (IReadOnlyList<int>)s.Kept);
        mtp?.AddTo(kept);
        var plan = ExpertPlan.Keep(kept);
        if (mtp?.Dropped == true) plan.DropMtpLayers = true;
        return plan;
    }

    /// <summary>The round record's <c>mtp</c> entry: the rule, and per MTP layer the experts before and the slots kept and removed.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["rule"] = Rule };
        if (Dropped)
        {
            json[MoeConfigParser.MtpLayersKey] = 0;
            return json;
        }
        json["note"] = WeightNormNote;
        var layers = new JsonObject();
        foreach (var (layer, s) in Selections)
            layers[layer.ToString()] = new JsonObject
            {
                ["experts"] = s.NumExperts, ["kept_slots"] = Ints(s.Kept), ["removed_slots"] = Ints(s.Removed),
            };
        json["layers"] = layers;
        return json;
    }

    /// <summary>
    /// pruning.json's <c>mtp</c> entry from the rounds' records: the rule of the last round that touched the MTP layers
    /// and, when they survive, per MTP layer the ORIGINAL experts kept and removed after every round; null when no round
    /// had MTP layers.
    /// </summary>
    public static JsonObject? Compose(IEnumerable<JsonObject> rounds)
    {
        SortedDictionary<int, (int Experts, int[] Originals)>? layers = null;
        JsonObject? last = null;
        foreach (var round in rounds)
        {
            if (round["mtp"] is not JsonObject mtp) continue;
            last = mtp;
            if (mtp["rule"]?.GetValue<string>() == DroppedRule) break;
            layers ??= [];
            foreach (var (key, value) in mtp["layers"]!.AsObject())
            {
                int layer = int.Parse(key);
                int experts = value!["experts"]!.GetValue<int>();
                var slots = value["kept_slots"]!.AsArray().Select(n => n!.GetValue<int>());
                var current = layers.TryGetValue(layer, out var l) ? l : (experts, Enumerable.Range(0, experts).ToArray());
                layers[layer] = (current.Item1, slots.Select(s => current.Item2[s]).ToArray());
            }
        }
        if (last is null) return null;
        if (last["rule"]?.GetValue<string>() == DroppedRule) return (JsonObject)last.DeepClone();
        var result = new JsonObject { ["rule"] = WeightNormRule, ["note"] = WeightNormNote };
        var json = new JsonObject();
        foreach (var (layer, (experts, kept)) in layers!)
            json[layer.ToString()] = new JsonObject
            {
                ["experts"] = experts, ["kept"] = Ints(kept), ["removed"] = Ints(Enumerable.Range(0, experts).Except(kept)),
            };
        result["layers"] = json;
        return result;
    }

    private static JsonArray Ints(IEnumerable<int> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
}
