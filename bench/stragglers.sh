#!/usr/bin/env bash
# Throughput with a straggler: the Fashion-MNIST MLP (configs/fashion-mlp.toml, global batch
# 1024), W in-process workers (2 by default), N iterations (200), under allreduce and a
# parameter server in BSP, SSP (staleness 3, and with dist.stragglers = skip) and ASP, once as
# it is and once with node 1 three times slower (dist.faults = slow:1:3). Throughput is the sum
# over the workers of the examples each trained on over its own training time (metrics.jsonl's
# node_times records): what the workers sustain together while they run. Prints a markdown
# table with the ratio of the straggler run's throughput to the clean one's, and the same for
# the fast worker 0 alone.
#
#   bench/stragglers.sh [BUILD_DIR] [ITERS] [REPEATS] [WORKERS]
#
# Two workers on two cores: with more workers than cores a sleeping straggler hands its core
# to the others and the measurement flatters every strategy. Logs go to
# runs/stragglers/<variant>.log; compare the ratios, measured in the same run of this script.
set -euo pipefail
build=${1:-build/release}
iters=${2:-200}
repeats=${3:-1}
workers=${4:-2}
courier="$build/app/courier"
out=runs/stragglers
mkdir -p "$out"

variants=("allreduce|dist.strategy=allreduce"
          "ps-bsp|dist.strategy=ps dist.sync=bsp"
          "ps-ssp|dist.strategy=ps dist.sync=ssp dist.staleness=3"
          "ps-ssp-skip|dist.strategy=ps dist.sync=ssp dist.staleness=3 dist.stragglers=skip"
          "ps-asp|dist.strategy=ps dist.sync=asp")

# Sum of samples/s over the nodes of a run (all, or all but node SKIP).
throughput() {
  local metrics=$1 skip=$2
  grep '"kind":"node_times"' "$metrics" | awk -v skip="$skip" '{
    match($0, /"node":[0-9]+/); node = substr($0, RSTART + 7, RLENGTH - 7);
    match($0, /"samples_per_s":[0-9.e+-]+/); rate = substr($0, RSTART + 16, RLENGTH - 16);
    if (skip == "" || node != skip) sum += rate } END { printf "%.0f", sum }'
}

run() {  # name, settings...
  local name=$1
  shift
  local sets=()
  for s in "$@"; do sets+=(--set "$s"); done
  rm -rf "${out:?}/$name"
  "$courier" train configs/fashion-mlp.toml --set "train.workers=$workers" --set "train.iters=$iters" \
    --set train.batch=1024 --set train.eval_every=100000 --set "train.out=$out/$name" "${sets[@]}" >"$out/$name.log" 2>&1
}

printf '| strategy | samples/s clean | with node 1 at 1/3 speed | ratio | worker 0 clean | worker 0 with straggler | ratio |\n'
printf '|---|---|---|---|---|---|---|\n'
for variant in "${variants[@]}"; do
  label=${variant%%|*}
  read -r -a settings <<<"${variant#*|}"
  for ((r = 1; r <= repeats; r++)); do
    run "$label-clean" "${settings[@]}"
    run "$label-slow" "${settings[@]}" dist.faults=slow:1:3
    clean=$(throughput "$out/$label-clean/metrics.jsonl" "")
    slow=$(throughput "$out/$label-slow/metrics.jsonl" "")
    fast_clean=$(throughput "$out/$label-clean/metrics.jsonl" 1)
    fast_slow=$(throughput "$out/$label-slow/metrics.jsonl" 1)
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$clean" "$slow" \
      "$(awk -v a="$slow" -v b="$clean" 'BEGIN { printf "%.2f", a / b }')" "$fast_clean" "$fast_slow" \
      "$(awk -v a="$fast_slow" -v b="$fast_clean" 'BEGIN { printf "%.2f", a / b }')"
  done
done
