#!/usr/bin/env bash
# Time and memory of the data-centric merge (issue 15, item 6) on a model (default: models/default): the calibration
# pass (routing counts + the input sample), then per layer every expert on every sampled token and the CKA sums
# (merge_seconds in merging.json), for several --similarity-tokens; a data-free merge (weights) as the baseline
# of loading and exporting. Prints one line per run with the load average. Usage: tools/bench/merge-pass.sh [MODEL_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
model="${1:-models/default}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
./moeprune --help > /dev/null
run() {
  local name=$1; shift
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -f "%e %M" -o "$tmp/time" ./moeprune merge "$model" --groups 6 --out "$tmp/$name" "$@" > /dev/null
  read -r wall rss < "$tmp/time"
  python3 - "$tmp/$name/merging.json" "$name" "$wall" "$rss" "$load" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["rounds"][0]
rows = [v.get("input_rows") for v in r["layers"].values()]
print(f"{sys.argv[2]:<28} pass {r['calibration_seconds']:7.1f} s ({r['calibration_tokens']} tokens)  similarity+merge {r['merge_seconds']:7.1f} s "
      f"({len(rows)} layers, {rows[0]} rows each)  wall {float(sys.argv[3]):7.1f} s  max RSS {int(sys.argv[4]) / 1024:7.0f} MiB  load {sys.argv[5]}")
PY
}
run weights-no-pass --similarity weights
run cka-1024 --similarity cka --similarity-tokens 1024
run cka-4096-default --similarity cka
run cka-16384 --similarity cka --similarity-tokens 16384
run cka-32768-all --similarity cka --similarity-tokens 32768
