#!/usr/bin/env bash
# Decoder-layer forward throughput of two MoePrune builds, interleaved run by run (e.g. before/after a change to the
# shared forward). Each run is one process: `bench forward --shape SHAPE --reps REPS --json`; prints every run and,
# per dtype and build, the median tokens/s over runs, plus the load average before and after.
# usage: tools/bench/forward-ab.sh A.dll B.dll RUNS REPS [SHAPE]
#   A.dll/B.dll: MoePrune.Cli.dll of each build (src/MoePrune.Cli/bin/Release/net10.0/MoePrune.Cli.dll); build the
#   base in a clone: git clone . /tmp/base && (cd /tmp/base && git checkout BASE && dotnet build src/MoePrune.Cli -c Release)
set -euo pipefail
a=$1 b=$2 runs=$3 reps=$4 shape=${5:-default}
out=$(mktemp)
uptime
for ((i = 1; i <= runs; i++)); do
  for build in A B; do
    dll=$a; [ $build = B ] && dll=$b
    dotnet "$dll" bench forward --shape "$shape" --reps "$reps" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
rows = r["results"] if isinstance(r, dict) and "results" in r else r
for x in rows: print(x["dtype"], sys.argv[1], x["tokens_per_s"])' "$build" | tee -a "$out"
  done
done
uptime
python3 "$(dirname "$0")/ab-medians.py" "$out" tokens/s
rm -f "$out"
