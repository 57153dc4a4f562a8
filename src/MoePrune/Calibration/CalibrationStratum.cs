namespace MoePrune.Calibration;

/// <summary>
/// A group of documents that a calibration source's sequences are spread over in proportion to its size: a Brown
/// genre of the <c>brown</c> source, or the whole source for every other kind. <see cref="Tokens"/> tokenizes
/// document <c>i</c> on demand (only the documents a sample touches are tokenized).
/// </summary>
public sealed record CalibrationStratum(string Name, int Count, Func<int, int[]> Tokens);

/// <summary>What one stratum contributed: its sequences, their tokens, and the documents they were drawn from.</summary>
public sealed record CalibrationStratumUse(string Name, int Sequences, long Tokens, int Documents);
