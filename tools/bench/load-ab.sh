#!/usr/bin/env bash
# Load time of two MoePrune builds, interleaved run by run on the same checkpoints (e.g. before/after the
# value fingerprint). Each run is one process: `bench load DIR --reps REPS`, whose first load warms the JIT
# and page cache; the run's number is the median of the REPS loads after it. Prints every run and, per
# checkpoint and build, the median over runs, plus the load average. (Builds with the value fingerprint report
# the median of the loads with it; `bench load DIR --reps N` alone compares with and without it in one process.)
# usage: [A_ENV="VAR=value ..."] [B_ENV=...] tools/bench/load-ab.sh A.dll B.dll RUNS REPS DIR...
#   A.dll/B.dll: MoePrune.Cli.dll of each build (src/MoePrune.Cli/bin/Release/net10.0/MoePrune.Cli.dll);
#   A_ENV/B_ENV: environment for that build's runs (e.g. A_ENV=DOTNET_TC_QuickJitForLoops=0 gives an old build
#   the JIT setting of Directory.Build.props)
set -euo pipefail
a=$1 b=$2 runs=$3 reps=$4; shift 4
out=$(mktemp)
uptime
for ((i = 1; i <= runs; i++)); do
  for dir in "$@"; do
    for build in A B; do
      dll=$a envs=${A_ENV:-}; [ $build = B ] && dll=$b envs=${B_ENV:-}
      s=$(env $envs dotnet "$dll" bench load "$dir" --reps "$reps" --json | python3 -c 'import json,sys; r = json.load(sys.stdin); print(r.get("fingerprint_wall_seconds", r.get("reps_median_seconds")))')
      echo "$dir $build $s" | tee -a "$out"
    done
  done
done
uptime
python3 "$(dirname "$0")/ab-medians.py" "$out" ms
rm -f "$out"
