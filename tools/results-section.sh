#!/usr/bin/env bash
# Puts a generated Markdown file between the markers of one section of docs/RESULTS.md, leaving everything else (other
# studies' sections, the hand-written readings after the markers) as it is. The markers are two lines:
#   <!-- NAME: begin (any note) -->
#   <!-- NAME: end -->
# Usage: tools/results-section.sh NAME FILE     (RESULTS_MD=path to splice into another file)
# Every study's --markdown output reaches docs/RESULTS.md this way (never by writing the whole file).
set -euo pipefail
name="$1"; file="$2"
results="${RESULTS_MD:-$(cd "$(dirname "$0")/.." && pwd)/docs/RESULTS.md}"
[ -f "$file" ] || { echo "error: $file: no such file" >&2; exit 1; }
nb=$(grep -c "^<!-- $name: begin" "$results" || true); ne=$(grep -cxF "<!-- $name: end -->" "$results" || true)
[ "$nb" = 1 ] && [ "$ne" = 1 ] || { echo "error: $results: expected one '<!-- $name: begin' and one '<!-- $name: end -->' line" >&2; exit 1; }
tmp="$(mktemp "$(dirname "$results")/.RESULTS.md.XXXXXX")"
awk -v b="<!-- $name: begin" -v e="<!-- $name: end -->" -v f="$file" '
  index($0, b) == 1 { print; print ""; while ((getline line < f) > 0) print line; print ""; skip = 1; next }
  $0 == e { skip = 0 }
  !skip { print }' "$results" > "$tmp"
mv "$tmp" "$results"
echo "$results: section $name from $file"
