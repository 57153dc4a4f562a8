#!/usr/bin/env bash
# Regenerates the tables of docs/RESULTS.md "Expert merging" from a merge study's measurements (tools/merge-study.sh),
# finished or still running: `study merge --report-only` measures nothing, it renders what OUT_DIR/measurements.jsonl
# holds, and this script puts that between the two `merge-study` markers of docs/RESULTS.md (the hand-written reading
# after them is left as it is: re-read it against the new numbers). The options must be those of tools/merge-study.sh
# (the study refuses other settings). Usage: tools/merge-study-section.sh [OUT_DIR] (default runs/merge-study).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/merge-study}"
export MOEPRUNE_DATA="$(pwd)/data"
./moeprune study merge models/default --work "$out" \
  --groups 6,4 --calib-seeds 0,1,2 --tasks def2word,hypernym --task-limit 200 --eval-sequences 4 --learned-steps 50 \
  --report-only --markdown "$out/section.md" --force > /dev/null
tools/results-section.sh merge-study "$out/section.md"
echo "docs/RESULTS.md: merge-study tables from $out ($(grep -c . "$out/measurements.jsonl") measurements)"
