#!/usr/bin/env bash
# The simulator's scaling table: scaling efficiency (one worker's step, all compute, over the
# simulated step) of allreduce, the parameter server and gossip, uncompressed and with top-k 1%
# + error feedback, at 8 to 1,024 workers on 10 and 100 Gb/s links (one switch, 5 us).
# A worker's compute a step is measured once on this machine's kernels (the config's model and
# per-worker batch) and used for every row; gradient and top-k bytes come from short real runs.
#
#   bench/simulate.sh [BUILD_DIR] [CONFIG] [WORKERS]
#   bench/simulate.sh build/release configs/gpt-kjv.toml 8,16,32,64,128,256,512,1024
#
# The parameter server runs one shard per 8 workers (--servers 1/8), BSP.
set -euo pipefail
build=${1:-build/release}
config=${2:-configs/gpt-kjv.toml}
workers=${3:-8,16,32,64,128,256,512,1024}
courier="$build/app/courier"
steps=5

measured=$("$courier" simulate "$config" --workers 1 --steps 1)
compute=$(sed -nE 's/.*computes ([0-9.]+) ms a step.*/\1/p' <<<"$measured")
echo "# $config: a worker computes $compute ms a step (measured); $steps steps simulated a row"
grep '^#' <<<"$measured" | tail -1

IFS=, read -r -a counts <<<"$workers"
printf '| strategy | codec | link |'
for n in "${counts[@]}"; do printf ' %s |' "$n"; done
printf '\n|---|---|---|'
for _ in "${counts[@]}"; do printf -- '---|'; done
printf '\n'
for strategy in allreduce ps gossip; do
  for codec in identity topk:0.01+ef; do
    out=$("$courier" simulate "$config" --set "dist.strategy=$strategy" --set "dist.codec=$codec" \
            --set dist.sync=bsp --servers 1/8 --compute "${compute}ms" --steps "$steps" --workers "$workers" \
            --link 10Gbps,5us --link 100Gbps,5us)
    for link in 10Gbps 100Gbps; do
      printf '| %s | %s | %s |' "$strategy" "${codec/identity/none}" "$link"
      # Fields: workers, servers, link (2), step (2), compute, comm, wait, efficiency, ...
      awk -v l="$link," '$3 ~ "^"l { printf " %.3f |", $10 }' <<<"$out"
      printf '\n'
    done
  done
done
