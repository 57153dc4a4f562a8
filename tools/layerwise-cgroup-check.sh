#!/usr/bin/env bash
# Manual check of layer-by-layer execution under a hard memory cap (docs/LAYERWISE.md, docs/BENCHMARKS.md §layerwise).
#
#   sudo tools/layerwise-cgroup-check.sh [WORKDIR] [GB]      (root: it creates a memory cgroup by hand)
#
# Makes a random bf16 Mixtral-style checkpoint of about GB gigabytes (default 4.2) with `bench make-checkpoint`, then
# runs `score`, `prune`, `merge`, `perplexity` and `eval` (a multiple-choice task file and the KL gate of the merged
# checkpoint against the input, with a BPE tokenizer of the checkpoint's 1,024 tokens trained here) twice: without a cap (in memory), and inside a memory cgroup limited to half
# the checkpoint's size (cgroup v2 memory.max or v1 memory.limit_in_bytes, whichever this machine has), where the
# commands choose layer-by-layer execution themselves from the cgroup limit. Checks that both give the same scores
# (1e-6 relative), byte-identical pruned and merged checkpoints (pruning.json / merging.json aside) and the same perplexity, and prints peak RSS
# (/usr/bin/time) and the cgroup's peak usage next to the largest decoder layer + hidden states (the .err logs hold
# one line per batch with the RSS then). Then times scoring
# in memory, layer by layer on a warm page cache, and layer by layer after evicting the checkpoint from the page cache
# (dd iflag=nocache, the checkpoint's files only). Deletes the checkpoint and the outputs at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-/tmp/moeprune-cgroup-check}"
gb="${2:-4.2}"
M="$root/moeprune"
[ "$(id -u)" = 0 ] || { echo "error: run as root (the memory cgroup is created by hand)" >&2; exit 1; }
rm -rf "$work"; mkdir -p "$work"
ckpt="$work/ckpt"
cg=""
cleanup() {
  rm -rf "$ckpt" "$work"/pruned-* "$work"/*.st "$work/tok"
  if [ -n "$cg" ] && [ -d "$cg" ]; then rmdir "$cg" 2>/dev/null || true; fi
}
trap cleanup EXIT

"$M" native >/dev/null                                  # build outside the cgroup
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== making a ${gb} GB bf16 checkpoint"
"$M" bench make-checkpoint --out "$ckpt" --gb "$gb" --shards 3 --seed 1 >/dev/null
size=$(cat "$ckpt"/*.safetensors | wc -c)
limit=$((size / 2))
python3 -c "
import random; random.seed(7)
open('$work/ids.txt','w').write('\n'.join(' '.join(str(random.randrange(3,1024)) for _ in range(64)) for _ in range(8)))
words = 'the of and to a in that is was he for it with as his on be at by had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split()
random.seed(11)
open('$work/text.txt','w').write(' '.join(random.choice(words) for _ in range(20000)))
import json
docs = [{'id': f'd{i}', 'context': ' '.join(random.choice(words) for _ in range(12)), 'choices': [' '.join(random.choice(words) for _ in range(3)) for _ in range(4)], 'gold': i % 4} for i in range(12)]
open('$work/mc.jsonl','w').write('\n'.join(json.dumps(d) for d in docs) + '\n')"
"$M" train-tokenizer --text-file "$work/text.txt" --vocab-size 1024 --out "$work/tok" >/dev/null
cp "$work"/tok/tokenizer*.json "$ckpt/"
echo "checkpoint $size bytes in $(ls "$ckpt"/*.safetensors | wc -l) shards; cap $limit bytes"

# --- the cgroup: v2 when /sys/fs/cgroup is the unified hierarchy, else v1's memory controller
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || echo +memory > /sys/fs/cgroup/cgroup.subtree_control
  cg=/sys/fs/cgroup/moeprune-check-$$; mkdir "$cg"
  echo "$limit" > "$cg/memory.max"; [ -f "$cg/memory.swap.max" ] && echo 0 > "$cg/memory.swap.max"
  peak_file=memory.peak; version=v2
else
  cg=/sys/fs/cgroup/memory/moeprune-check-$$; mkdir "$cg"
  echo "$limit" > "$cg/memory.limit_in_bytes"
  [ -f "$cg/memory.memsw.limit_in_bytes" ] && echo "$limit" > "$cg/memory.memsw.limit_in_bytes"
  peak_file=memory.max_usage_in_bytes; version=v1
fi
echo "cgroup $version: $cg"

calib=(--calib "tokens:$work/ids.txt" --calib-sequences 8 --calib-seq-len 64 --batch-size 4)
criteria="min-ean,reap,frequency,min-euf,max-ecc,min-evtc,max-ets,max-eas,min-eae,min-eao,max-rwn,min-ewn"
# run NAME CAPPED CMD... : peak RSS to NAME.rss, cgroup peak to NAME.cgpeak, stdout to NAME.out, stderr to NAME.err
run() {
  local name=$1 capped=$2; shift 2
  local start=$(date +%s%N)
  if [ "$capped" = yes ]; then
    [ "$version" = v1 ] && echo 0 > "$cg/memory.max_usage_in_bytes"
    sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" /usr/bin/time -f '%M' -o "$work/$name.rss" "$@" >"$work/$name.out" 2>"$work/$name.err"
    cat "$cg/$peak_file" > "$work/$name.cgpeak" 2>/dev/null || echo n/a > "$work/$name.cgpeak"
  else
    /usr/bin/time -f '%M' -o "$work/$name.rss" "$@" >"$work/$name.out" 2>"$work/$name.err"
  fi
  echo "$name: $(( ($(date +%s%N) - start) / 1000000 )) ms wall, peak RSS $(( $(cat "$work/$name.rss") / 1024 )) MiB" \
       "$( [ "$capped" = yes ] && echo ", cgroup peak $(( $(cat "$work/$name.cgpeak") / 1048576 )) MiB")"
}

echo "== score / prune / merge / perplexity without a cap (in memory) and inside the cap (layer by layer, chosen from the cgroup limit)"
for capped in no yes; do
  run "score-$capped" $capped "$M" score "$ckpt" "${calib[@]}" --criteria "$criteria" --out "$work/score-$capped.json" --json --verbose
  run "prune-$capped" $capped "$M" prune "$ckpt" "${calib[@]}" --criterion min-ean --drop 2 --out "$work/pruned-$capped" --json --verbose
  run "merge-$capped" $capped "$M" merge "$ckpt" "${calib[@]}" --similarity cka --merge frequency --groups 6 --similarity-tokens 256 \
      --out "$work/pruned-merge-$capped" --json --verbose
  run "ppl-$capped" $capped "$M" perplexity "$ckpt" --token-file "$work/ids.txt" --batch-size 4 --json --verbose
  run "eval-$capped" $capped "$M" eval "$work/pruned-merge-no" --tasks "$work/mc.jsonl" --reference "$ckpt" --text-file "$work/text.txt" \
      --seq-len 64 --limit 12 --batch-size 4 --json --verbose
done

python3 - "$work" <<'EOF'
import json, os, sys, filecmp
w = sys.argv[1]
a, b = json.load(open(f'{w}/score-no.json')), json.load(open(f'{w}/score-yes.json'))
worst = 0.0
for c, rep in a['criteria'].items():
    for l, v in rep['layers'].items():
        for x, y in zip(v['values'], b['criteria'][c]['layers'][l]['values']):
            worst = max(worst, abs(x - y) / max(1e-12, abs(x), abs(y)))
print(f"scores: {len(a['criteria'])} criteria, max relative difference {worst:.3e}; fingerprints equal: {a['metadata']['checkpoint_fingerprint'] == b['metadata']['checkpoint_fingerprint']}")
files = sorted(f for f in os.listdir(f'{w}/pruned-no') if f != 'pruning.json')
same = all(filecmp.cmp(f'{w}/pruned-no/{f}', f'{w}/pruned-yes/{f}', shallow=False) for f in files)
print(f"prune: {len(files)} files, byte-identical: {same}; kept experts equal: {json.load(open(f'{w}/pruned-no/pruning.json'))['layers'] == json.load(open(f'{w}/pruned-yes/pruning.json'))['layers']}")
files = sorted(f for f in os.listdir(f'{w}/pruned-merge-no') if f != 'merging.json')
same = all(filecmp.cmp(f'{w}/pruned-merge-no/{f}', f'{w}/pruned-merge-yes/{f}', shallow=False) for f in files)
ma, mb = (json.load(open(f'{w}/pruned-merge-{c}/merging.json')) for c in ('no', 'yes'))
print(f"merge: {len(files)} files, byte-identical: {same}; groups equal: {ma['layers'] == mb['layers']}")
pa, pb = json.load(open(f'{w}/ppl-no.out')), json.load(open(f'{w}/ppl-yes.out'))
print(f"perplexity: {pa['perplexity']:.6f} / {pb['perplexity']:.6f}, mean NLL difference {abs(pa['mean_nll'] - pb['mean_nll']):.3e}")
ea, eb = json.load(open(f'{w}/eval-no.out')), json.load(open(f'{w}/eval-yes.out'))
t = next(iter(ea['tasks']))
print(f"eval: task {t} acc {ea['tasks'][t]['acc']} / {eb['tasks'][t]['acc']}; KL mean {ea['kl']['mean']:.9f} / {eb['kl']['mean']:.9f}, "
      f"p99 {ea['kl']['p99']:.6f} / {eb['kl']['p99']:.6f}, top-1 {ea['kl']['top1_agreement']} / {eb['kl']['top1_agreement']}")
for name in ['score', 'prune', 'merge', 'ppl', 'eval']:
    out = json.load(open(f'{w}/{name}-yes.out'))
    lw = out.get('layerwise')
    if lw is None: print(f"{name}: NOT layer by layer inside the cap"); continue
    rss = int(open(f'{w}/{name}-yes.rss').read()) * 1024
    print(f"{name} capped: {lw['reason']}; peak RSS {rss/2**20:.0f} MiB vs largest part + hidden states "
          f"{(lw['largest_part_bytes'] + lw['hidden_state_bytes'])/2**20:.0f} MiB; read {lw['read_mb_per_second']} MB/s, disk {lw['disk_sequential_mb_per_second']} MB/s")
EOF

echo "== scoring throughput: in memory, layer by layer on a warm page cache, layer by layer after evicting the checkpoint"
evict() { for f in "$ckpt"/*.safetensors; do dd if="$f" iflag=nocache count=0 status=none; done; }
run tp-memory no "$M" score "$ckpt" "${calib[@]}" --criteria min-ean,reap,frequency --out "$work/tp-memory.json" --json
run tp-warm no "$M" score "$ckpt" "${calib[@]}" --criteria min-ean,reap,frequency --layerwise --out "$work/tp-warm.json" --json
evict
run tp-cold no "$M" score "$ckpt" "${calib[@]}" --criteria min-ean,reap,frequency --layerwise --out "$work/tp-cold.json" --json
python3 - "$work" "$size" <<'EOF'
import json, sys
w, size = sys.argv[1], int(sys.argv[2])
for name in ['tp-memory', 'tp-warm', 'tp-cold']:
    o = json.load(open(f'{w}/{name}.out'))
    lw = o.get('layerwise') or {}
    extra = f", read {lw['read_mb_per_second']} MB/s, disk {lw['disk_sequential_mb_per_second']} MB/s; size / disk rate = {size / 1e6 / lw['disk_sequential_mb_per_second']:.1f} s" if lw else ""
    print(f"{name}: job {o['seconds']} s (load + pass), pass {o['tokens_per_second']} tokens/s{extra}")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
