#!/usr/bin/env bash
# The default model's built-in task scores for docs/RESULTS.md ("Built-in tasks"): zero-shot and 5-shot on the
# first 300 test documents of each task (all 208 for genre), then zero-shot on every document. One run at a time.
# Usage: tools/eval-default.sh [OUT_DIR] (default runs/eval-default).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/eval-default}"
mkdir -p "$out"
# A frozen copy of the CLI, so that editing sources during the (long) runs cannot rebuild it under them.
./moeprune --help > /dev/null
cli="$out/cli"; rm -rf "$cli"; cp -r src/MoePrune.Cli/bin/Release/net10.0 "$cli"
export MOEPRUNE_DATA="$(pwd)/data"
run() { local name=$1; shift; echo "$(date -u +%FT%TZ) $name: $(uptime | sed 's/.*load/load/')"; \
        /usr/bin/time -f "$name: %e s" dotnet "$cli/MoePrune.Cli.dll" eval models/default --tasks builtin "$@" \
          --out "$out/$name.json" --samples "$out/$name.samples.jsonl" --markdown "$out/$name.md" > /dev/null; }
run shots0-limit300 --shots 0 --limit 300
run shots5-limit300 --shots 5 --limit 300
run shots0-all --shots 0
echo "$(date -u +%FT%TZ) done: $(uptime | sed 's/.*load/load/')"
