#!/usr/bin/env bash
# Trains the committed BpeTrainer fixture with MoePrune, then records the JS reference ids for it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
dir="$root/tests/MoePrune.Tests/fixtures/tokenizers/trained"
"$root/moeprune" train-tokenizer --corpus "$dir/corpus.txt" --vocab-size 1000 --out "$dir" \
  --special "<|endoftext|>" --special "<|pad|>" --special "<|im_start|>" --special "<|im_end|>"
node "$here/check_trained.mjs"
