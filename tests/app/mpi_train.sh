#!/usr/bin/env bash
# Training under mpirun:
# 1. Allreduce data parallel equals one process training on the whole batch: N MPI ranks of
#    batch 128/N against one worker of batch 128, step losses within 1e-5 relative over 50
#    steps, for N = 2 and 4.
# 2. The parameter server in BSP (2 workers + 2 server ranks), local SGD and gossip (4 ranks)
#    give the losses their in-process runs give; SSP (s = 3) runs to the end.
# 3. A small GPT on data/kjv.txt: mpirun -n 2 allreduce equals one process on the whole batch,
#    the parameter server in SSP mode (2 workers + 1 server) runs to the end, and a pipeline of
#    2 stages x 2 replicas (1F1B, 4 micro-batches) under mpirun -n 4 equals one process.
# 4. Compression: allreduce with int8 and with top-k 1% + error feedback, and gossip with top-k
#    10% (CHOCO), under mpirun -n 4 give the losses their in-process runs give.
# Usage: mpi_train.sh MPIEXEC COURIER CONFIGS_DIR SCRATCH
set -euo pipefail
mpiexec=$1
courier=$2
configs=$3
scratch=$4
config=$configs/fashion-mlp.toml
rm -rf "$scratch"
common=(--set train.iters=50 --set train.log_every=1 --set checkpoint.every=0)
mpirun=("$mpiexec" --oversubscribe --allow-run-as-root)

# Node 0's step losses, one a line, from a run's metrics.jsonl.
losses() {
  grep '"kind":"step"' "$1/metrics.jsonl" | grep '"node":0[,}]' | grep -o '"loss":[^,]*' | cut -d: -f2
}

# compare A B WHAT: node 0's losses of runs A and B agree to 1e-5 relative over all 50 steps.
compare() {
  paste <(losses "$1") <(losses "$2") | awk -v what="$3" '
    { d = $1 - $2; if (d < 0) d = -d; rel = d / $1; if (rel > worst) worst = rel; count++ }
    END {
      if (count != 50) { printf "%s: %d steps compared, expected 50\n", what, count; exit 1 }
      if (worst > 1e-5) { printf "%s: worst relative loss difference %.3g > 1e-5\n", what, worst; exit 1 }
      printf "%s: 50 steps, worst relative loss difference %.3g\n", what, worst
    }'
}

"$courier" train "$config" "${common[@]}" --set train.workers=1 --set train.out="$scratch/single" >/dev/null 2>&1 \
  || { echo "the single-process run failed"; exit 1; }
for n in 2 4; do
  "${mpirun[@]}" -n "$n" "$courier" train "$config" "${common[@]}" --set train.workers="$n" \
    --set dist.transport=mpi --set train.out="$scratch/mpi$n" >/dev/null 2>&1 || { echo "mpirun -n $n failed"; exit 1; }
  compare "$scratch/single" "$scratch/mpi$n" "allreduce, mpirun -n $n against 1 process"
done

for strategy in "ps-bsp --set train.workers=2 --set dist.servers=2" "local-sgd --set train.workers=4" \
                "gossip --set train.workers=4"; do
  name=${strategy%% *}
  read -r -a sets <<< "${strategy#* }"
  "$courier" train "$configs/fashion-mlp-$name.toml" "${common[@]}" "${sets[@]}" --set train.out="$scratch/$name-inproc" \
    >/dev/null 2>&1 || { echo "$name in process failed"; exit 1; }
  "${mpirun[@]}" -n 4 "$courier" train "$configs/fashion-mlp-$name.toml" "${common[@]}" "${sets[@]}" \
    --set dist.transport=mpi --set train.out="$scratch/$name-mpi" >/dev/null 2>&1 || { echo "$name under mpirun failed"; exit 1; }
  compare "$scratch/$name-inproc" "$scratch/$name-mpi" "$name, mpirun -n 4 against in process"
done

for codec in "fashion-mlp int8" "fashion-mlp topk:0.01+ef" "fashion-mlp-gossip topk:0.1"; do
  name=${codec%% *}
  spec=${codec#* }
  dir="$scratch/codec-$name-${spec//[:+]/_}"
  "$courier" train "$configs/$name.toml" "${common[@]}" --set train.workers=4 --set dist.codec="$spec"     --set train.out="$dir-inproc" >/dev/null 2>&1 || { echo "$name with $spec in process failed"; exit 1; }
  "${mpirun[@]}" -n 4 "$courier" train "$configs/$name.toml" "${common[@]}" --set train.workers=4     --set dist.codec="$spec" --set dist.transport=mpi --set train.out="$dir-mpi" >/dev/null 2>&1     || { echo "$name with $spec under mpirun failed"; exit 1; }
  compare "$dir-inproc" "$dir-mpi" "$name with dist.codec=$spec, mpirun -n 4 against in process"
done

out=$("${mpirun[@]}" -n 4 "$courier" train "$configs/fashion-mlp-ps-ssp.toml" "${common[@]}" --set train.workers=2 \
        --set dist.servers=2 --set dist.transport=mpi --set train.out="$scratch/ps-ssp-mpi" 2>&1) \
  || { echo "ps-ssp under mpirun failed: $out"; exit 1; }
grep -q "^done: 50 steps" <<< "$out" || { echo "ps-ssp under mpirun did not finish: $out"; exit 1; }
echo "ps-ssp, mpirun -n 4: 50 steps done"

kjv=$configs/../data/kjv.txt
if [ ! -s "$kjv" ]; then echo "GPT runs skipped: $kjv is missing (make data)"; exit 0; fi
gpt=(--set data.path="$kjv" --set model.layers=1 --set model.heads=2 --set model.embedding=32 --set model.context=16
     --set train.batch=8 --set train.threads=1 --set train.eval_every=0 --set train.final_eval_examples=16)
"$courier" train "$configs/gpt-kjv.toml" "${common[@]}" "${gpt[@]}" --set train.workers=1 \
  --set train.out="$scratch/gpt-single" >/dev/null 2>&1 || { echo "the single-process GPT run failed"; exit 1; }
"${mpirun[@]}" -n 2 "$courier" train "$configs/gpt-kjv.toml" "${common[@]}" "${gpt[@]}" --set train.workers=2 \
  --set dist.transport=mpi --set train.out="$scratch/gpt-mpi2" >/dev/null 2>&1 || { echo "GPT under mpirun -n 2 failed"; exit 1; }
compare "$scratch/gpt-single" "$scratch/gpt-mpi2" "gpt allreduce, mpirun -n 2 against 1 process"
out=$("${mpirun[@]}" -n 3 "$courier" train "$configs/gpt-kjv.toml" "${common[@]}" "${gpt[@]}" --set train.workers=2 \
        --set dist.strategy=ps --set dist.sync=ssp --set dist.transport=mpi --set train.out="$scratch/gpt-ssp" 2>&1) \
  || { echo "GPT ps-ssp under mpirun failed: $out"; exit 1; }
grep -q "^done: 50 steps" <<< "$out" || { echo "GPT ps-ssp under mpirun did not finish: $out"; exit 1; }
echo "gpt ps-ssp, mpirun -n 3: 50 steps done"
"${mpirun[@]}" -n 4 "$courier" train "$configs/gpt-kjv-pipeline.toml" "${common[@]}" "${gpt[@]}" --set train.workers=2 \
  --set dist.transport=mpi --set train.out="$scratch/gpt-pipeline" >/dev/null 2>&1 \
  || { echo "GPT pipeline under mpirun -n 4 failed"; exit 1; }
compare "$scratch/gpt-single" "$scratch/gpt-pipeline" "gpt pipeline 2 stages x 2 replicas, mpirun -n 4 against 1 process"
