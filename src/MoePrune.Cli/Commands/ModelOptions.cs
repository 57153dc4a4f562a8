using System.CommandLine;

namespace MoePrune.Cli.Commands;

/// <summary>Arguments and options shared by commands that read a model directory.</summary>
public static class ModelOptions
{
    public static Argument<string> ModelDir() => new("model-dir")
    {
        Description = "Hugging Face model directory (config.json + safetensors)",
    };

    public static Option<string?> Dtype() => new("--dtype")
    {
        Description = "Compute dtype: fp32, bf16 or fp16 (default: the checkpoint's)",
    };
}
