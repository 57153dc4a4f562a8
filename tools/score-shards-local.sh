#!/usr/bin/env bash
# The local equivalent of docs/examples/score-shards.slurm: N `score --shard K/N` processes at once on this machine,
# then one `score --merge-stats` of their statistics into OUT_DIR/scores.json (equal to one pass over everything).
#
#   tools/score-shards-local.sh N MODEL_DIR OUT_DIR [score options: --criteria, --calib…, --batch-size, --layerwise…]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 N MODEL_DIR OUT_DIR [score options]" >&2; exit 2; }
n=$1 model=$2 out=$3; shift 3
M="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/moeprune"
mkdir -p "$out"
"$M" native >/dev/null                                   # build once, before the parallel runs
pids=()
for k in $(seq 1 "$n"); do
  "$M" score "$model" "$@" --shard "$k/$n" --save-stats "$out/shard-$k.st" --out "$out/shard-$k.json" --json \
    >"$out/shard-$k.out" 2>"$out/shard-$k.log" &
  pids+=($!)
done
failed=0
for k in $(seq 1 "$n"); do
  if ! wait "${pids[$((k - 1))]}"; then echo "shard $k/$n failed: $(tail -n 1 "$out/shard-$k.log")" >&2; failed=1; fi
done
[ "$failed" = 0 ] || exit 1
criteria=()
for ((i = 1; i <= $#; i++)); do [ "${!i}" = --criteria ] && { j=$((i + 1)); criteria=(--criteria "${!j}"); }; done
"$M" score "$model" "${criteria[@]}" --merge-stats "$out"/shard-*.st --out "$out/scores.json"
