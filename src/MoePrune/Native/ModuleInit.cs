using System.Runtime.CompilerServices;

namespace MoePrune.Native;

static class ModuleInit
{
    /// <summary>Any use of the MoePrune library first tunes the allocator and makes TorchSharp's native backend loadable.</summary>
#pragma warning disable CA2255 // deliberate: the library must prepare the native backend before torch is touched
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Init()
    {
        MallocTuning.Apply();
        // Deferred errors: a failure here is rethrown at the first real torch use through EnsureLoaded.
        try { TorchNative.EnsureLoaded(); } catch (MoePruneException) { }
    }
}
