using System.Globalization;
using System.Text;

namespace MoePrune.Tokenization;

/// <summary>
/// Unicode normalization (NFC, NFD, NFKC, NFKD) from MoePrune's own tables, because the project runs
/// .NET with invariant globalization, where <c>string.Normalize</c> leaves non-ASCII text unchanged.
/// The tables (UnicodeNormalization.data, an embedded resource made by
/// tools/tokenizers/make_unicode_data.py) hold full decompositions, combining classes and primary
/// composites; Hangul is handled algorithmically. The algorithm is UAX #15: decompose, put combining
/// marks in canonical order, then (for the C forms) compose each mark with the last starter unless blocked.
/// </summary>
public static class UnicodeNormalizer
{
    const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    static readonly Tables Data = Tables.Load();

    public static string Normalize(string text, NormalizationForm form)
    {
        if (IsAscii(text)) return text;
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
        var cps = Decompose(text, compatibility);
        ReorderMarks(cps);
        if (compose) Compose(cps);
        var sb = new StringBuilder(text.Length);
        foreach (int cp in cps)
            if (cp < 0x10000) sb.Append((char)cp);   // BMP, or a lone surrogate passed through
            else sb.Append(char.ConvertFromUtf32(cp));
        return sb.ToString();
    }

    static bool IsAscii(string text)
    {
        foreach (char c in text)
            if (c >= 0x80) return false;
        return true;
    }

    static List<int> Decompose(string text, bool compatibility)
    {
        var cps = new List<int>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int cp;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            { cp = char.ConvertToUtf32(text[i], text[i + 1]); i += 2; }
            else { cp = text[i]; i++; }   // a lone surrogate passes through unchanged

            if (cp >= SBase && cp < SBase + SCount)
            {
                int s = cp - SBase;
                cps.Add(LBase + s / NCount);
                cps.Add(VBase + s % NCount / TCount);
                if (s % TCount != 0) cps.Add(TBase + s % TCount);
            }
            else if (compatibility && Data.Compatibility.TryGetValue(cp, out var k)) cps.AddRange(k);
            else if (Data.Canonical.TryGetValue(cp, out var d)) cps.AddRange(d);
            else cps.Add(cp);
        }
        return cps;
    }

    static int CombiningClass(int cp) => Data.CombiningClass.TryGetValue(cp, out int ccc) ? ccc : 0;

    /// <summary>Stable sort of every run of non-starters by combining class.</summary>
    static void ReorderMarks(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int ccc = CombiningClass(cps[i]);
            if (ccc == 0) continue;
            for (int j = i; j > 0 && CombiningClass(cps[j - 1]) > ccc; j--)
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
        }
    }

    static void Compose(List<int> cps)
    {
        if (cps.Count == 0) return;
        int starter = CombiningClass(cps[0]) == 0 ? 0 : -1;
        int write = 1, lastClass = starter == 0 ? 0 : 256;
        for (int read = 1; read < cps.Count; read++)
        {
            int cp = cps[read], ccc = CombiningClass(cp);
            bool blocked = starter < 0 || (lastClass != 0 && lastClass >= ccc) || (lastClass == 0 && write - 1 != starter);
            if (!blocked && TryCompose(cps[starter], cp, out int composite))
            {
                cps[starter] = composite;
                continue;
            }
            if (ccc == 0) { starter = write; lastClass = 0; }
            else lastClass = ccc;
            cps[write++] = cp;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    static bool TryCompose(int a, int b, out int composite)
    {
        if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
        { composite = SBase + ((a - LBase) * VCount + (b - VBase)) * TCount; return true; }
        if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        { composite = a + (b - TBase); return true; }
        return Data.Composites.TryGetValue(((long)a << 32) | (uint)b, out composite);
    }

    sealed class Tables
    {
        public readonly Dictionary<int, int> CombiningClass = new();
        public readonly Dictionary<int, int[]> Canonical = new();
        public readonly Dictionary<int, int[]> Compatibility = new();
        public readonly Dictionary<long, int> Composites = new();

        public static Tables Load()
        {
            var t = new Tables();
            using var stream = typeof(UnicodeNormalizer).Assembly.GetManifestResourceStream("MoePrune.Tokenization.UnicodeNormalization.data")
                ?? throw new InvalidOperationException("embedded resource UnicodeNormalization.data is missing");
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is string line)
            {
                if (line.Length == 0 || line[0] == '#') continue;
                var f = line[2..].Split(' ').Select(x => int.Parse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
                switch (line[0])
                {
                    case 'C': t.CombiningClass[f[0]] = f[1]; break;
                    case 'D': t.Canonical[f[0]] = f[1..]; t.Compatibility.TryAdd(f[0], f[1..]); break;
                    case 'K': t.Compatibility[f[0]] = f[1..]; break;
                    case 'P': t.Composites[((long)f[0] << 32) | (uint)f[1]] = f[2]; break;
                }
            }
            return t;
        }
    }
}
