using System.Text;

namespace MoePrune.Tokenization;

/// <summary>
/// GPT-2's reversible byte ↔ character table used by byte-level BPE: the printable bytes
/// <c>!..~</c>, <c>¡..¬</c> and <c>®..ÿ</c> map to themselves, the other 68 bytes to U+0100, U+0101, …
/// in byte order (so a space becomes <c>Ġ</c> and a newline <c>Ċ</c>).
/// </summary>
public static class ByteLevelAlphabet
{
    static readonly char[] ByteToChar = BuildTable();
    static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    static char[] BuildTable()
    {
        var table = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)(256 + next++);
        }
        return table;
    }

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>The byte a table character stands for, or null for a character outside the table.</summary>
    public static byte? ByteOf(char c) => CharToByte.TryGetValue(c, out var b) ? b : null;

    /// <summary>UTF-8 encodes <paramref name="text"/> and maps every byte to its table character.</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text)];
        Encoding.UTF8.GetBytes(text, bytes);
        return string.Create(bytes.Length, bytes, static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = ByteToChar[src[i]];
        });
    }

    /// <summary>
    /// Appends the bytes a token stands for. As in HF's ByteLevel decoder, a token holding any character
    /// outside the table (an added token such as <c>&lt;｜User｜&gt;</c>) contributes its own UTF-8 bytes.
    /// </summary>
    public static void AppendBytes(string token, List<byte> sink)
    {
        foreach (char c in token)
            if (!CharToByte.ContainsKey(c)) { sink.AddRange(Encoding.UTF8.GetBytes(token)); return; }
        foreach (char c in token) sink.Add(CharToByte[c]);
    }
}
