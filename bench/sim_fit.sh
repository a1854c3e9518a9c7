#!/usr/bin/env bash
# Does the simulator predict this machine? Fits a link to the in-process transport, then
# compares the measured step of the Fashion-MNIST MLP on 2 in-process workers with the step
# `courier simulate` predicts for 2 nodes on that link, a few times alternately (the machine is
# shared, so each pair runs back to back), and prints each pair's ratio and the median.
#
#   bench/sim_fit.sh [BUILD_DIR] [REPEATS]
#
# The fit: a 2-rank ring allreduce of S bytes takes 2 alpha + S beta (2 (n-1) latencies, and
# 2 (n-1)/n S = S bytes through each NIC); least squares over S = 64 KiB..4 MiB from
# `courier bench allreduce` gives alpha (the link's latency) and 1/beta (its bandwidth).
set -euo pipefail
build=${1:-build/release}
repeats=${2:-3}
courier="$build/app/courier"
config=configs/fashion-mlp.toml
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

bench=$("$courier" bench allreduce --ranks 2 --algo ring --bytes 64K:4M --factor 2)
read -r alpha_us gbps < <(awk '/^ +[0-9]/ { s = $1; t = $3 * 1e-6; n++; sx += s; sy += t; sxx += s * s; sxy += s * t }
  END { b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n; if (a < 0) a = 0;
        printf "%.3f %.3f\n", a / 2 * 1e6, 8 / b / 1e9 }' <<<"$bench")
link="${gbps}Gbps,${alpha_us}us"
echo "# in-process transport fitted as $link (2-rank ring allreduce, 64 KiB to 4 MiB)"
printf '| run | measured step (2 workers) | simulated step (2 nodes) | simulated / measured |\n|---|---|---|---|\n'
ratios=()
for i in $(seq 1 "$repeats"); do
  measured=$("$courier" train "$config" --set train.workers=2 --set train.iters=400 --set train.eval_examples=100 \
               --set train.final_eval_examples=100 --set "train.out=$scratch/run" | sed -nE 's/.*median step ([0-9.]+) ms.*/\1/p')
  simulated=$("$courier" simulate "$config" --set train.workers=2 --workers 2 --link "$link" --steps 200 |
                awk '$1 == 2 && $5 ~ /^[0-9.]+$/ { printf "%.3f", $6 == "ms" ? $5 : $5 / 1000 }')
  ratio=$(awk -v s="$simulated" -v m="$measured" 'BEGIN { printf "%.3f", s / m }')
  ratios+=("$ratio")
  printf '| %d | %s ms | %s ms | %s |\n' "$i" "$measured" "$simulated" "$ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { printf "# median ratio %.3f\n", r[int((NR + 1) / 2)] }'
