using System.CommandLine;
using MoePrune.Jobs;

namespace MoePrune.Cli.Commands;

/// <summary>Arguments and options shared by commands that read a model directory.</summary>
public static class ModelOptions
{
    /// <summary>
    /// The model directory argument, optional; commands resolve it with <see cref="DefaultModel.Resolve(string?)"/>,
    /// which gives a one-line error when it is omitted and no default model is installed.
    /// </summary>
    public static Argument<string?> OptionalModelDir() => new("model-dir")
    {
        Description = $"Hugging Face model directory (default: {DefaultModel.RelativeDir}, the shipped pretrained model)",
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>
    /// The model directory argument with the default model (<see cref="DefaultModel.Find()"/>) as its default value;
    /// when none is installed the default is the relative path, so that loading names it.
    /// </summary>
    public static Argument<string> ModelDirOrDefault() => new("model-dir")
    {
        Description = $"Hugging Face model directory (default: {DefaultModel.RelativeDir}, the shipped pretrained model)",
        Arity = ArgumentArity.ZeroOrOne,
        DefaultValueFactory = _ => DefaultModel.Find() ?? DefaultModel.RelativeDir,
    };

    public static Option<string?> Dtype() => new("--dtype")
    {
        Description = "Compute dtype: fp32, bf16 or fp16 (default: the checkpoint's)",
    };
}
