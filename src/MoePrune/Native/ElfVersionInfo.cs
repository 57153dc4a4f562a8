using System.Buffers.Binary;
using System.Text;

namespace MoePrune.Native;

/// <summary>One symbol-version requirement of a shared library (an entry of <c>.gnu.version_r</c>).</summary>
/// <param name="File">The library the version is required from, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Version">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="Index">The version index (<c>vna_other</c>) that <c>.gnu.version</c> entries refer to.</param>
/// <param name="Flags">The <c>vna_flags</c> field; bit 0x2 is VER_FLG_WEAK.</param>
/// <param name="FlagsOffset">File offset of the two-byte <c>vna_flags</c> field.</param>
public sealed record VersionNeed(string File, string Version, int Index, int Flags, long FlagsOffset)
{
    public const int WeakFlag = 0x2;
    public bool IsWeak => (Flags & WeakFlag) != 0;
}

/// <summary>
/// Minimal ELF64 little-endian reader for the GNU symbol-versioning sections: the versions a library
/// defines (<c>.gnu.version_d</c>), the versions it needs (<c>.gnu.version_r</c>) and which dynamic
/// symbols use each needed version (<c>.gnu.version</c> + <c>.dynsym</c>).
/// </summary>
public sealed class ElfVersionInfo
{
    const uint ShtDynsym = 11, ShtVerdef = 0x6ffffffd, ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff;

    public string Path { get; }
    public IReadOnlyList<string> Defined { get; }
    public IReadOnlyList<VersionNeed> Needed { get; }
    readonly Dictionary<int, List<string>> _symbolsByVersionIndex;

    ElfVersionInfo(string path, List<string> defined, List<VersionNeed> needed, Dictionary<int, List<string>> symbols)
    {
        Path = path; Defined = defined; Needed = needed; _symbolsByVersionIndex = symbols;
    }

    /// <summary>Names of the dynamic symbols bound to the needed version with this index.</summary>
    public IReadOnlyList<string> SymbolsUsing(int versionIndex) =>
        _symbolsByVersionIndex.TryGetValue(versionIndex, out var list) ? list : [];

    readonly record struct Section(uint Type, long Offset, long Size, int Link, int Info, long EntSize);

    public static ElfVersionInfo Read(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
            throw new MoePruneException($"{path}: not an ELF file");
        if (b[4] != 2 || b[5] != 1)
            throw new MoePruneException($"{path}: only 64-bit little-endian ELF files are supported");
        var span = b.AsSpan();
        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        if (shoff <= 0 || shoff + (long)shentsize * shnum > b.Length)
            throw new MoePruneException($"{path}: section header table lies outside the file");

        var sections = new Section[shnum];
        for (int i = 0; i < shnum; i++)
        {
            var s = span[(int)(shoff + (long)i * shentsize)..];
            sections[i] = new Section(
                BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(s[24..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(s[32..]),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(s[40..]),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(s[44..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(s[56..]));
        }

        string Str(int strtab, long offset)
        {
            long start = sections[strtab].Offset + offset;
            int end = (int)start;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)start, end - (int)start);
        }

        var defined = new List<string>();
        var needed = new List<VersionNeed>();
        var symbols = new Dictionary<int, List<string>>();
        foreach (var sec in sections)
        {
            if (sec.Type == ShtVerdef)
            {
                long p = sec.Offset;
                for (int n = 0; n < sec.Info; n++)
                {
                    int flags = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(p + 2)..]);
                    uint aux = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(p + 12)..]);
                    uint next = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(p + 16)..]);
                    uint name = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(p + aux)..]);
                    if ((flags & 0x1) == 0) defined.Add(Str(sec.Link, name)); // skip VER_FLG_BASE (the soname)
                    if (next == 0) break;
                    p += next;
                }
            }
            else if (sec.Type == ShtVerneed)
            {
                long p = sec.Offset;
                for (int n = 0; n < sec.Info; n++)
                {
                    int cnt = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(p + 2)..]);
                    string file = Str(sec.Link, BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(p + 4)..]));
                    uint aux = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(p + 8)..]);
                    uint next = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(p + 12)..]);
                    long a = p + aux;
                    for (int k = 0; k < cnt; k++)
                    {
                        int flags = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(a + 4)..]);
                        int other = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(a + 6)..]);
                        string version = Str(sec.Link, BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(a + 8)..]));
                        needed.Add(new VersionNeed(file, version, other, flags, a + 4));
                        uint anext = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(a + 12)..]);
                        if (anext == 0) break;
                        a += anext;
                    }
                    if (next == 0) break;
                    p += next;
                }
            }
        }

        int dynsym = Array.FindIndex(sections, s => s.Type == ShtDynsym);
        int versym = Array.FindIndex(sections, s => s.Type == ShtVersym);
        if (dynsym >= 0 && versym >= 0 && sections[dynsym].EntSize == 24)
        {
            var ds = sections[dynsym];
            long count = ds.Size / 24;
            for (long i = 0; i < count; i++)
            {
                int idx = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(sections[versym].Offset + 2 * i)..]) & 0x7fff;
                if (idx < 2) continue; // local / global
                uint name = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(ds.Offset + 24 * i)..]);
                if (!symbols.TryGetValue(idx, out var list)) symbols[idx] = list = [];
                list.Add(Str(ds.Link, name));
            }
        }
        return new ElfVersionInfo(path, defined, needed, symbols);
    }
}
