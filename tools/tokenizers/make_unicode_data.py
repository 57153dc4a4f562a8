"""Writes src/MoePrune/Tokenization/UnicodeNormalization.data, the tables behind MoePrune's own
NFC/NFD/NFKC/NFKD (the project runs .NET in invariant-globalization mode, where string.Normalize
does nothing). Run with any Python 3: /usr/bin/python3 tools/tokenizers/make_unicode_data.py

Lines (hex code points):  C cp ccc          canonical combining class (non-zero only)
                          D cp x y ...      full canonical decomposition (NFD of cp)
                          K cp x y ...      full compatibility decomposition (NFKD of cp), where it differs from D
                          P a b c           primary composite: a + b compose to c in NFC
Hangul syllables are decomposed and composed algorithmically and are not listed."""
import os
import sys
import unicodedata

out = os.path.join(os.path.dirname(__file__), "../../src/MoePrune/Tokenization/UnicodeNormalization.data")
lines = [f"# Unicode {unicodedata.unidata_version} normalization tables, made by tools/tokenizers/make_unicode_data.py"]
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF or 0xAC00 <= cp <= 0xD7A3:
        continue
    c = chr(cp)
    ccc = unicodedata.combining(c)
    if ccc:
        lines.append(f"C {cp:X} {ccc:X}")
    nfd = unicodedata.normalize("NFD", c)
    if nfd != c:
        lines.append("D %X %s" % (cp, " ".join(f"{ord(x):X}" for x in nfd)))
    nfkd = unicodedata.normalize("NFKD", c)
    if nfkd != nfd:
        lines.append("K %X %s" % (cp, " ".join(f"{ord(x):X}" for x in nfkd)))
    dec = unicodedata.decomposition(c)
    if dec and not dec.startswith("<"):
        parts = [int(p, 16) for p in dec.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == c:
            lines.append(f"P {parts[0]:X} {parts[1]:X} {cp:X}")
with open(out, "w", encoding="ascii", newline="\n") as f:
    f.write("\n".join(lines) + "\n")
print(f"{len(lines)} lines -> {out}", file=sys.stderr)
