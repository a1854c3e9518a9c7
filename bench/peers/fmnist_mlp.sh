#!/usr/bin/env bash
# Fashion-MNIST MLP training throughput, courier against PyTorch, in one invocation:
#   courier 1 node (1 thread), 2 in-process nodes (1 thread each), mpirun -n 2 (1 thread each)
#   PyTorch 1.13 single process (1 thread), PyTorch DDP over gloo on 2 processes (1 thread each)
# Same model (784-256-128-10, ReLU, Adam 1e-3), global batch 128 everywhere (DDP: 64 a rank).
# samples/s is over the training steps only (no evaluation), median epoch for PyTorch.
# Runs everything twice: with the host's OPENBLAS_CORETYPE (Haswell when the environment has
# none), then with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS picks its own kernel).
#
# Usage: bench/peers/fmnist_mlp.sh [BUILD_DIR] [EPOCHS]     (from the repository root)
# Needs: the release build, dataset-fashion-mnist, python3-torch, and the peers in
# ../shared/peers (or PEERS=dir).
set -euo pipefail
source "$(dirname "$0")/common.sh"
build=${1:-build/release}
epochs=${2:-3}
courier=$build/app/courier
peers=${PEERS:-../shared/peers}
python=${PYTHON:-/usr/bin/python3}
config=configs/fashion-mlp.toml
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The samples/s of courier's "done:" line.
courier_rate() { sed -n 's/.* \([0-9]*\) samples\/s;.*/\1/p'; }

# The samples_per_s of the peers' RESULT line.
torch_rate() { sed -n 's/^RESULT .*samples_per_s=\([0-9]*\).*/\1/p'; }


run_all() {
  local label=$1
  shift  # the rest: an env prefix, e.g. env -u OPENBLAS_CORETYPE
  local common=(--set train.epochs="$epochs" --set train.threads=1 --set checkpoint.every=0
                --set train.log_every=100000 --set train.eval_every=100000)
  local c1 c2 cm t1 td
  c1=$("$@" "$courier" train "$config" "${common[@]}" --set train.workers=1 --set train.out="$scratch/c1" | courier_rate)
  c2=$("$@" "$courier" train "$config" "${common[@]}" --set train.workers=2 --set train.out="$scratch/c2" | courier_rate)
  cm=$("$@" mpirun --oversubscribe -n 2 "$courier" train "$config" "${common[@]}" --set train.workers=2 \
         --set dist.transport=mpi --set train.out="$scratch/cm" | courier_rate)
  t1=$(cd "$peers" && "$@" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$python" fmnist_mlp.py --epochs "$epochs" \
         --threads 1 --blas-threads 1 | torch_rate)
  td=$(cd "$peers" && "$@" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$python" ddp_fmnist_mlp.py --world 2 --batch 64 \
         --epochs "$epochs" | torch_rate)
  echo "## $label"
  printf '%-34s %10s %8s\n' run samples/s ratio
  printf '%-34s %10s %8s\n' "PyTorch 1 process, 1 thread" "$t1" "1.00"
  printf '%-34s %10s %8s\n' "courier 1 node, 1 thread" "$c1" "$(ratio "$c1" "$t1")"
  printf '%-34s %10s %8s\n' "PyTorch DDP gloo, 2 processes" "$td" "1.00"
  printf '%-34s %10s %8s\n' "courier 2 in-process nodes" "$c2" "$(ratio "$c2" "$td")"
  printf '%-34s %10s %8s\n\n' "courier mpirun -n 2" "$cm" "$(ratio "$cm" "$td")"
}

echo "# Fashion-MNIST MLP, global batch 128, $epochs epochs, $(nproc) cores"
both_blas_settings run_all
