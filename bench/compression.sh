#!/usr/bin/env bash
# The compression table: the GPT baby config on KJV (configs/gpt-kjv.toml), 4 in-process
# nodes, the same seed, N iterations (1000 by default), once per codec and strategy. Prints a
# markdown table: final validation loss (2400 windows), worker 0's bytes sent a step (the
# gradients it pushes or reduces, the parameters it gossips) with the ratio to the
# uncompressed run of the same strategy, and the bytes it received a step (for ps: the pulls).
#
#   bench/compression.sh [BUILD_DIR] [ITERS] [STRATEGIES]
#   bench/compression.sh build/release 1000 "allreduce ps gossip"
#
# ps runs 4 workers and 1 server shard (5 nodes); PowerSGD needs allreduce, so it is skipped
# under ps and gossip, and so is the last row, top-k with dist.exchange = preconditioned (each
# worker's Adam change compressed instead of its gradient; docs/compression.md). Logs go to
# runs/compression/<strategy>-<codec>.log.
set -euo pipefail
build=${1:-build/release}
iters=${2:-1000}
strategies=${3:-allreduce ps gossip}
courier="$build/app/courier"
out=runs/compression
mkdir -p "$out"

# A row: the codec, then any further settings after a space.
codecs=(identity fp16 int8 topk:0.01+ef powersgd:4 "topk:0.01+ef dist.exchange=preconditioned")

printf '| strategy | codec | validation loss | vs none | bytes sent/step | fewer bytes than none | received/step |\n'
printf '|---|---|---|---|---|---|---|\n'
for strategy in $strategies; do
  base_loss="" base_bytes=""
  for row in "${codecs[@]}"; do
    read -r codec extra <<<"$row"
    if [[ ($codec == powersgd:* || -n $extra) && $strategy != allreduce ]]; then continue; fi
    settings=()
    for kv in $extra; do settings+=(--set "$kv"); done
    name="$strategy-${codec//[:+]/_}${extra:+-${extra##*=}}"
    rm -rf "${out:?}/$name"  # metrics.jsonl is appended to
    "$courier" train configs/gpt-kjv.toml --set train.workers=4 --set "train.iters=$iters" \
      --set "dist.strategy=$strategy" --set "dist.codec=$codec" "${settings[@]}" --set "train.out=$out/$name" \
      >"$out/$name.log" 2>&1
    done_line=$(grep '^done:' "$out/$name.log")
    loss=$(sed -E 's/.*validation loss ([0-9.]+).*/\1/' <<<"$done_line")
    bytes=$(sed -E 's/.*sent ([0-9.]+ [KM]?i?B)\/step.*/\1/' <<<"$done_line")
    raw=$(awk -v b="$bytes" 'BEGIN { split(b, p, " "); m = p[2] == "MiB" ? 1048576 : p[2] == "KiB" ? 1024 : 1; printf "%.0f", p[1] * m }')
    if [[ -z $base_loss ]]; then base_loss=$loss base_bytes=$raw; fi
    delta=$(awk -v a="$loss" -v b="$base_loss" 'BEGIN { printf "%+.4f", a - b }')
    fewer=$(awk -v a="$base_bytes" -v b="$raw" 'BEGIN { printf "%.1fx", a / b }')
    # Worker 0's last step record: bytes received since the start, over the steps.
    last=$(grep '"kind":"step"' "$out/$name/metrics.jsonl" | grep '"node":0[,}]' | tail -1)
    received=$(awk -v r="$(grep -o '"bytes_received":[0-9]*' <<<"$last" | cut -d: -f2)" \
                   -v s="$(grep -o '"step":[0-9]*' <<<"$last" | cut -d: -f2)" \
      'BEGIN { b = r / (s + 1); if (b >= 1048576) printf "%.2f MiB", b / 1048576; else printf "%.1f KiB", b / 1024 }')
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$strategy" "$row" "$loss" "$delta" "$bytes" "$fewer" "$received"
  done
done
