#!/usr/bin/env bash
# The merging results of docs/RESULTS.md ("Expert merging", issue 15): every similarity x merge method, the
# M-SMoE/HC-SMoE presets and the dropping baselines (frequency, min-EAN, NAEE) on models/default at 6 and 4 of 8
# experts per layer, calibration seeds 0,1,2; perplexity and KL to the parent on the Brown validation subset,
# def2word and hypernym (cloze) accuracy. Resumable: rerun the same command and it skips what
# OUT_DIR/measurements.jsonl already holds (learned merges run last). Usage: tools/merge-study.sh [OUT_DIR]
# (default runs/merge-study); writes OUT_DIR/results.json and OUT_DIR/results.md. Extra arguments go to the study.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/merge-study}"; shift || true
mkdir -p "$out"
# A frozen copy of the CLI, so that editing sources during the (long) run cannot rebuild it under it.
./moeprune --help > /dev/null
cli="$out/cli"; rm -rf "$cli"; cp -r src/MoePrune.Cli/bin/Release/net10.0 "$cli"
export MOEPRUNE_DATA="$(pwd)/data"
export DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x10000000}"
echo "$(date -u +%FT%TZ) start: $(uptime | sed 's/.*load/load/')"
/usr/bin/time -f "study: %e s, max RSS %M KB" dotnet "$cli/MoePrune.Cli.dll" study merge models/default --work "$out" \
  --groups 6,4 --calib-seeds 0,1,2 --tasks def2word,hypernym --task-limit 200 --eval-sequences 4 --learned-steps 50 \
  --threads 1 --markdown "$out/results.md" --force "$@" > /dev/null
echo "$(date -u +%FT%TZ) done: $(uptime | sed 's/.*load/load/')"
