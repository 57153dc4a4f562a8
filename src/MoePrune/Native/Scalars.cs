using TorchSharp;

namespace MoePrune.Native;

/// <summary>
/// Numbers handed to libtorch as <see cref="Scalar"/>s that are kept alive past the call that uses them.
/// TorchSharp 0.107 turns a number in <c>x + 1e-6</c> or <c>x.pow(2)</c> into a temporary Scalar and passes
/// only its native handle on; the managed object can then be finalized — freeing the handle — while libtorch
/// still reads it ("Unknown scalar type" under load, dotnet/TorchSharp#1434). Every such number in MoePrune is
/// written <c>Scalars.Of(v)</c> instead, and the analyzer rule MP0001 (src/MoePrune.Analyzers) rejects the
/// implicit form at compile time. Integral values give an Int64 Scalar, others a Float64 one, as the implicit
/// conversions did. A Scalar stays referenced by a per-thread ring until <see cref="Capacity"/> later Scalars
/// have been made on the same thread, then it is disposed; calls on one thread are sequential, so the call
/// that received it has long returned. (TorchSharp's dispose scopes manage tensors only.)
/// </summary>
public static class Scalars
{
    public const int Capacity = 256;

    [ThreadStatic] private static Scalar?[]? _ring;
    [ThreadStatic] private static int _next;

    public static Scalar Of(long value) => Keep(value.ToScalar());

    public static Scalar Of(double value) => Keep(value.ToScalar());

    public static Scalar Of(bool value) => Keep(value.ToScalar());

    private static Scalar Keep(Scalar scalar)
    {
        var ring = _ring ??= new Scalar?[Capacity];
        ring[_next]?.Dispose();
        ring[_next] = scalar;
        _next = (_next + 1) % Capacity;
        return scalar;
    }
}
