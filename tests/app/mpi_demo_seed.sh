#!/usr/bin/env bash
# The seed example as three MPI processes prints exactly what the single-process run prints.
# Usage: mpi_demo_seed.sh MPIEXEC COURIER
set -euo pipefail
mpiexec=$1
courier=$2
expected=$("$courier" demo seed --seed 11)
actual=$("$mpiexec" --oversubscribe --allow-run-as-root -n 3 "$courier" demo seed --nodes layers --transport mpi --seed 11)
if [ "$expected" != "$actual" ]; then
  echo "mpirun -n 3 output differs from the single-process run:"
  diff <(echo "$expected") <(echo "$actual") || true
  exit 1
fi
echo "identical: $(echo "$actual" | wc -l) lines"
