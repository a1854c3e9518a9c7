#!/usr/bin/env bash
# Allreduce data parallel under mpirun equals one process training on the whole batch: N MPI
# ranks of batch 128/N against one worker of batch 128, step losses within 1e-5 relative over
# 50 steps, for N = 2 and 4.
# Usage: mpi_train_equivalence.sh MPIEXEC COURIER CONFIG SCRATCH
set -euo pipefail
mpiexec=$1
courier=$2
config=$3
scratch=$4
rm -rf "$scratch"
common=(--set train.iters=50 --set train.log_every=1 --set checkpoint.every=0)

# Node 0's step losses, one a line, from a run's metrics.jsonl.
losses() {
  grep '"kind":"step"' "$1/metrics.jsonl" | grep '"node":0[,}]' | grep -o '"loss":[^,]*' | cut -d: -f2
}

"$courier" train "$config" "${common[@]}" --set train.workers=1 --set train.out="$scratch/single" >/dev/null 2>&1 \
  || { echo "the single-process run failed"; exit 1; }
for n in 2 4; do
  "$mpiexec" --oversubscribe --allow-run-as-root -n "$n" "$courier" train "$config" "${common[@]}" \
    --set train.workers="$n" --set dist.transport=mpi --set train.out="$scratch/mpi$n" >/dev/null 2>&1 \
    || { echo "mpirun -n $n failed"; exit 1; }
  paste <(losses "$scratch/single") <(losses "$scratch/mpi$n") | awk -v n="$n" '
    { d = $1 - $2; if (d < 0) d = -d; rel = d / $1; if (rel > worst) worst = rel; count++ }
    END {
      if (count != 50) { printf "mpirun -n %d: %d steps compared, expected 50\n", n, count; exit 1 }
      if (worst > 1e-5) { printf "mpirun -n %d: worst relative loss difference %.3g > 1e-5\n", n, worst; exit 1 }
      printf "mpirun -n %d: 50 steps, worst relative loss difference %.3g\n", n, worst
    }'
done
