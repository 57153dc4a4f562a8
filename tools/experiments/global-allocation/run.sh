#!/usr/bin/env bash
# Observation 10 of the MC-Suite paper (docs/RESULTS.md): global (non-uniform) allocation vs per-layer uniform dropping
# with min-EAN on models/default at 50% and 75% sparsity, calibration seeds 0-2 (32 sequences), perplexity on the
# lottery study's evaluation sample (1 Brown validation sequence per genre); then, for seed 0, one all-parameter
# fine-tune of each cut (30,720 tokens at 50%, 129,024 at 75%: the lottery's total at that sparsity, lr 1e-3) and its
# perplexity. Prints one line per run. Usage: tools/experiments/global-allocation/run.sh OUT_DIR [CLI_DLL]
set -euo pipefail
cd "$(dirname "$0")/../../.."
out="$1"; cli="${2:-src/MoePrune.Cli/bin/Release/net10.0/MoePrune.Cli.dll}"
export MOEPRUNE_DATA="$(pwd)/data" DOTNET_GCgen0size=0x10000000
mp() { nice -n 10 dotnet "$cli" --threads 1 "$@"; }
mkdir -p "$out"
for ratio in 0.5 0.75; do
  for seed in 0 1 2; do
    for mode in uniform global; do
      dir="$out/$mode-$ratio-s$seed"
      [ -f "$dir/pruning.json" ] || mp prune models/default --criterion min-ean --ratio $ratio --seed $seed --calib-sequences 32 \
          --eval-sequences 1 $([ $mode = global ] && echo --global) --out "$dir" --force --json > "$dir.json" 2>/dev/null
      python3 - "$dir/pruning.json" "$mode" "$ratio" "$seed" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); c = r["cost"]
counts = [len(v["kept"]) for k, v in sorted(r["rounds"][0]["layers"].items(), key=lambda kv: int(kv[0]))]
print(f"{sys.argv[2]} ratio {sys.argv[3]} seed {sys.argv[4]}: kept per layer {counts}, perplexity {c['perplexity']['before']:.2f} -> {c['perplexity']['after']:.2f}")
PY
    done
  done
  for mode in uniform global; do
    dir="$out/$mode-$ratio-s0"; ft="$dir-ft"
    tokens=$([ $ratio = 0.5 ] && echo 30720 || echo 129024)
    [ -f "$ft/config.json" ] || mp finetune "$dir" --tokens $tokens --train all --lr 1e-3 --out "$ft" --force --json > "$ft.json" 2>/dev/null
    p=$(mp perplexity "$ft" --corpus brown:validation --sequences 1 --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["perplexity"],2))')
    echo "$mode ratio $ratio seed 0 after fine-tuning $tokens tokens: perplexity $p"
  done
done
