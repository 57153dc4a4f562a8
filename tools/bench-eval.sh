#!/usr/bin/env bash
# Multiple-choice scoring throughput against plain perplexity on the same model and batch size (docs/BENCHMARKS.md,
# "Evaluation harness"). Usage: tools/bench-eval.sh [MODEL_DIR] [BATCH] [LIMIT].
# Each task runs between two perplexity runs (their mean is the baseline), with --batch-tokens 0 (rows only) and
# with the default packing. Prints tokens/s: forwarded (tokens the model read) and requested (context + continuation
# of every choice, as if each had its own forward), each over perplexity's tokens read per second.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/default}"; batch="${2:-8}"; limit="${3:-300}"
ppl() { ./moeprune perplexity "$model" --corpus brown:validation --seq-len 256 --max-per-genre 4 --batch-size "$batch" --json; }
uptime
for task in def2word def2word_letter word2def; do
  for tokens in 0 4096; do
    before=$(ppl)
    ev=$(./moeprune eval "$model" --tasks "$task" --limit "$limit" --batch-size "$batch" --batch-tokens "$tokens" --json)
    after=$(ppl)
    python3 - "$before" "$after" "$ev" "$task" "$tokens" <<'PY'
import json, sys
b, a, e, task, tokens = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
rate = lambda p: (p["tokens"] + p["sequences"]) / p["seconds"]            # tokens read (T per sequence)
base = (rate(b) + rate(a)) / 2
t = e["tasks"][task]
fwd, req = t["tokens_forwarded"] / t["seconds"], t["tokens_requested"] / t["seconds"]
print(f"{task:16s} batch-tokens {tokens:>4s}: forwarded {fwd:7.0f} tok/s ({fwd / base:.2f}x), requested {req:7.0f} tok/s ({req / base:.2f}x); "
      f"perplexity {rate(b):6.0f} / {rate(a):6.0f} tok/s")
PY
  done
done
uptime
