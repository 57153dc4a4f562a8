#!/usr/bin/env bash
# The measurements docs/BENCHMARKS.md asks to repeat on a quiet machine, in one go (about 10 minutes):
#   3a  the value fingerprint's cost on load (default model, a 0.74 GB bf16 checkpoint; pairs in one process)
#   greedy decoding with the KV cache against recomputation (1 torch thread)
#   perplexity throughput against llama.cpp (bench/llamacpp/perplexity.sh, 16 x 256 tokens, 2 threads)
# usage: tools/bench/quiet-remeasure.sh [OUT_FILE]   (default /tmp/quiet-remeasure.txt); prints the load average
# before and after each part: a measurement taken at a load average above ~1.5 on 2 cores says little.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-/tmp/quiet-remeasure.txt}"; : > "$out"
log() { echo "$*" | tee -a "$out"; }
load() { log "load: $(cut -d' ' -f1-3 /proc/loadavg)  $(date -u +%FT%TZ)"; }
./moeprune --help > /dev/null
big=/tmp/moeprune-quiet-big
[ -f "$big/config.json" ] || ./moeprune bench make-checkpoint --out "$big" --gb 0.4 --shards 2 > /dev/null

log "## 3a fingerprint cost on load"; load
for dir in models/default "$big"; do
  for run in 1 2 3; do log "$dir run $run: $(./moeprune bench load "$dir" --reps 15 --json | tr -d '\n ')"; done
done
load

log "## greedy decoding, 1 thread, 200 new tokens"; load
for run in 1 2 3; do
  for cache in "" --no-cache; do
    r=$(OMP_NUM_THREADS=1 ./moeprune generate --prompt "The jury said it did find that the city" --max-new-tokens 200 --json $cache \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get("tokens_per_second"))')
    log "cache=${cache:-on} run $run: $r tokens/s"
  done
done
load

log "## perplexity vs llama.cpp"; load
bench/llamacpp/perplexity.sh 16 2 | tee -a "$out"
load
