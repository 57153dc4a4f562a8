#!/usr/bin/env bash
# Perplexity throughput: MoePrune (perplexity --token-file) against llama.cpp (node-llama-cpp 3.21.1, prebuilt CPU
# binaries) on the shipped default model, same tokens, same machine, same run; f32, then bf16 and f16 GGUF exports.
#   bench/llamacpp/perplexity.sh [SEQUENCES] [THREADS]      (defaults: 16 sequences of 256 tokens, 2 threads)
# Prints one JSON line per measurement and the load average before and after. Needs tests/llamacpp installed
# (npm ci --ignore-scripts there) and the corpora (data/, installed on first use).
set -euo pipefail
cd "$(dirname "$0")/../.."
seqs="${1:-16}"; threads="${2:-2}"
work="$(mktemp -d /tmp/moeprune-bench-llamacpp.XXXXXX)"; trap 'rm -rf "$work"' EXIT
[ -d tests/llamacpp/node_modules/node-llama-cpp ] || (cd tests/llamacpp && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The same 256-token sequences for both engines: the trained-tokenizer corpus text, tokenized by the model's tokenizer.
./moeprune tokenize models/default --text-file tests/MoePrune.Tests/fixtures/tokenizers/trained/corpus.txt --no-special > "$work/ids.txt"
awk -v n="$seqs" '{ for (i = 1; i <= NF; i++) { line = line (c % 256 ? " " : "") $i; c++;
                     if (c % 256 == 0) { print line; line = ""; if (c / 256 >= n) exit } } }' "$work/ids.txt" > "$work/tokens.txt"
echo "sequences: $(wc -l < "$work/tokens.txt") x 256 tokens"

for dtype in fp32 bf16; do
  start=$(date +%s.%N)
  out=$(OMP_NUM_THREADS=$threads ./moeprune perplexity --token-file "$work/tokens.txt" --dtype $dtype --batch-size 8 --json | tr -d '\n ')
  end=$(date +%s.%N)
  echo "{\"engine\":\"MoePrune\",\"dtype\":\"$dtype\",\"wall_seconds\":$(echo "$end - $start" | bc),\"result\":$out}"
done
for type in f32 bf16 f16; do
  ./moeprune export-gguf --out "$work/default-$type.gguf" --dtype $type >/dev/null
  for mode in logits nll; do
    node bench/llamacpp/perplexity.mjs "$work/default-$type.gguf" "$work/tokens.txt" "$threads" $mode | sed "s/^{/{\"type\":\"$type\",/"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
