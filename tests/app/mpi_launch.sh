#!/usr/bin/env bash
# courier launch: a rank killed by SIGKILL mid-run (COURIER_FAULT_KILL_AT, deterministic) ends
# Open MPI's job; launch restarts it from the newest checkpoint and the training completes,
# losing less than one checkpoint interval, with the same final losses as a run never killed
# (resume is bit for bit). --shrink restarts on one rank fewer; --max-restarts 0 gives up
# leaving the checkpoints; a bad config is refused before mpirun starts.
# Usage: mpi_launch.sh MPIEXEC COURIER CONFIGS_DIR SCRATCH
set -euo pipefail
mpiexec=$1
courier=$2
configs=$3
scratch=$4
rm -rf "$scratch"
mkdir -p "$scratch"
run=(train "$configs/fashion-mlp.toml" --set train.iters=120 --set checkpoint.every=25 --set train.log_every=1
     --set train.eval_examples=200 --set train.final_eval_examples=200)

# Node 0's loss of the last step record for each step, "step loss" a line (a resumed run's
# metrics.jsonl holds the re-run steps twice; the later record wins).
losses() {
  grep '"kind":"step"' "$1/metrics.jsonl" | grep '"node":0[,}]' |
    sed -E 's/.*"step":([0-9]+).*"loss":([^,]*).*/\1 \2/; s/.*"loss":([^,]*).*"step":([0-9]+).*/\2 \1/' |
    awk '{ loss[$1] = $2 } END { for (s in loss) print s, loss[s] }' | sort -n
}

"$mpiexec" --oversubscribe --allow-run-as-root -n 4 "$courier" "${run[@]}" --set dist.transport=mpi \
  --set train.out="$scratch/clean" >/dev/null 2>&1 || { echo "the uninterrupted run failed"; exit 1; }

COURIER_FAULT_KILL_AT=2:70 "$courier" launch -n 4 --max-restarts 2 --mpirun "$mpiexec" -- "${run[@]}" \
  --set train.out="$scratch/killed" >"$scratch/killed.out" 2>"$scratch/killed.err" \
  || { echo "launch did not finish the killed run:"; cat "$scratch/killed.err"; exit 1; }
grep -q 'attempt 1 failed (exit status 137); the newest checkpoint is step 50; the job had logged step 71: 21 step(s) lost' \
  "$scratch/killed.err" || { echo "launch did not report the failure and the steps lost:"; cat "$scratch/killed.err"; exit 1; }
grep -q 'attempt 2 of 3: 4 ranks, from checkpoint step 50' "$scratch/killed.err" \
  || { echo "launch did not restart from step 50:"; cat "$scratch/killed.err"; exit 1; }
if ! diff <(losses "$scratch/clean") <(losses "$scratch/killed") >/dev/null; then
  echo "the restarted run's losses differ from the uninterrupted run's:"
  diff <(losses "$scratch/clean") <(losses "$scratch/killed") | head
  exit 1
fi
[[ $(losses "$scratch/killed" | wc -l) -eq 120 ]] || { echo "the restarted run did not log 120 steps"; exit 1; }
echo "killed at step 71, restarted from checkpoint 50 (21 steps lost), 120 steps equal to the uninterrupted run"

COURIER_FAULT_KILL_AT=3:40 "$courier" launch -n 4 --shrink --mpirun "$mpiexec" -- "${run[@]}" \
  --set train.out="$scratch/shrunk" >/dev/null 2>"$scratch/shrunk.err" \
  || { echo "launch --shrink did not finish:"; cat "$scratch/shrunk.err"; exit 1; }
grep -q 'attempt 2 of 4: 3 ranks, from checkpoint step 25' "$scratch/shrunk.err" \
  || { echo "launch --shrink did not restart on 3 ranks:"; cat "$scratch/shrunk.err"; exit 1; }
[[ -d $scratch/shrunk/checkpoints/step-00000120 ]] || { echo "the shrunk run did not save its last step"; exit 1; }
echo "--shrink: killed at step 41, finished on 3 ranks"

status=0
COURIER_FAULT_KILL_AT=1:30 "$courier" launch -n 2 --max-restarts 0 --mpirun "$mpiexec" -- "${run[@]}" \
  --set train.workers=2 --set train.out="$scratch/gaveup" >/dev/null 2>"$scratch/gaveup.err" || status=$?
[[ $status -eq 1 ]] || { echo "launch --max-restarts 0 exited $status, expected 1"; exit 1; }
grep -q 'gave up after 0 restart(s)' "$scratch/gaveup.err" || { cat "$scratch/gaveup.err"; exit 1; }
[[ -d $scratch/gaveup/checkpoints/step-00000025 ]] || { echo "giving up lost the checkpoints"; exit 1; }
echo "--max-restarts 0: gave up, checkpoint 25 intact"

status=0
"$courier" launch -n 2 --mpirun "$mpiexec" -- train "$configs/fashion-mlp.toml" --set train.lr=-1 \
  >/dev/null 2>"$scratch/bad.err" || status=$?
[[ $status -eq 2 ]] && grep -q 'train.lr' "$scratch/bad.err" || { echo "a bad config was not refused up front"; exit 1; }
echo "a bad config is refused before mpirun runs"
