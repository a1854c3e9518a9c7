#!/usr/bin/env bash
# Character GPT training throughput, courier against PyTorch 1.13, in one invocation.
# The model, optimiser and data of ../shared/peers/char_gpt.py (4 layers, 4 heads, 128 wide,
# context 64, AdamW, KJV text); configs/gpt-kjv.toml is the same model in courier.
#   single node, 1 thread         courier 1 worker, train.threads=1  | char_gpt.py 1 torch + 1 BLAS thread
#   single node, 2 BLAS threads   courier 1 worker, train.threads=2  | char_gpt.py 1 torch + 2 BLAS threads
#   2 data-parallel nodes x 1     courier 2 in-process workers, batch 24 | ddp_char_gpt.py, gloo, 2 x 12
# tokens/s = tokens of one global batch / the median step time after the first 10 steps
# (evaluation excluded), as char_gpt.py computes it; ratios are courier / PyTorch, and courier's
# 2 nodes / courier's 1 node. Everything runs twice: with the environment's OPENBLAS_CORETYPE
# (Haswell when it has none), then with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
#
# Usage: bench/peers/char_gpt.sh [BUILD_DIR] [ITERS]     (from the repository root)
# Needs: the release build, data/kjv.txt (make data), python3-torch, and the peers in
# ../shared/peers (or PEERS=dir).
set -euo pipefail
source "$(dirname "$0")/common.sh"
build=${1:-build/release}
iters=${2:-200}
courier=$build/app/courier
peers=${PEERS:-../shared/peers}
python=${PYTHON:-/usr/bin/python3}
config=configs/gpt-kjv.toml
corpus=$(pwd)/data/kjv.txt
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
[ -s "$corpus" ] || { echo "char_gpt.sh: $corpus is missing; run 'make data'" >&2; exit 1; }

# The median tokens/s of courier's "done:" line, and of the peers' RESULT line.
courier_rate() { sed -n 's/.*median step [0-9.]* ms = \([0-9]*\) tokens\/s.*/\1/p'; }
torch_rate() { sed -n 's/^RESULT .* tokens_per_s=\([0-9]*\).*/\1/p'; }

run_all() {
  local label=$1
  shift  # the rest: an env prefix, e.g. env -u OPENBLAS_CORETYPE
  local common=(--set train.iters="$iters" --set train.eval_every=0 --set train.final_eval_examples=12
                --set checkpoint.every=0 --set train.log_every=100000)
  local c1 c1b c2 t1 t1b td
  c1=$("$@" "$courier" train "$config" "${common[@]}" --set train.workers=1 --set train.batch=12 \
         --set train.threads=1 --set train.out="$scratch/c1" | courier_rate)
  c1b=$("$@" "$courier" train "$config" "${common[@]}" --set train.workers=1 --set train.batch=12 \
         --set train.threads=2 --set train.out="$scratch/c1b" | courier_rate)
  c2=$("$@" "$courier" train "$config" "${common[@]}" --set train.workers=2 --set train.batch=24 \
         --set train.threads=1 --set train.out="$scratch/c2" | courier_rate)
  t1=$(cd "$peers" && "$@" KJV_TXT="$corpus" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$python" char_gpt.py \
         --threads 1 --blas-threads 1 --iters "$iters" --eval-interval 0 --final-eval-iters 0 | torch_rate)
  t1b=$(cd "$peers" && "$@" KJV_TXT="$corpus" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 "$python" char_gpt.py \
         --threads 1 --blas-threads 2 --iters "$iters" --eval-interval 0 --final-eval-iters 0 | torch_rate)
  td=$(cd "$peers" && "$@" KJV_TXT="$corpus" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$python" ddp_char_gpt.py \
         --world 2 --iters "$iters" --final-eval-iters 0 | torch_rate)
  echo "## $label"
  printf '%-40s %10s %8s\n' run tokens/s ratio
  printf '%-40s %10s %8s\n' "PyTorch 1 process, 1 thread" "$t1" "1.00"
  printf '%-40s %10s %8s\n' "courier 1 node, 1 thread" "$c1" "$(ratio "$c1" "$t1")"
  printf '%-40s %10s %8s\n' "PyTorch 1 process, 1+2 BLAS threads" "$t1b" "1.00"
  printf '%-40s %10s %8s\n' "courier 1 node, 2 threads" "$c1b" "$(ratio "$c1b" "$t1b")"
  printf '%-40s %10s %8s\n' "PyTorch DDP gloo, 2 processes x 1" "$td" "1.00"
  printf '%-40s %10s %8s\n' "courier 2 in-process nodes x 1" "$c2" "$(ratio "$c2" "$td")"
  printf '%-40s %10s %8s\n\n' "  courier 2 nodes / courier 1 node" "" "$(ratio "$c2" "$c1")"
}

echo "# character GPT (4x128, context 64), $iters iterations, $(nproc) cores"
both_blas_settings run_all
