#!/usr/bin/env bash
# Interruptions and disk faults of `ftlib train`, for one backend:
#  1. kill -9 at random moments (checkpoint writes included), then resume from the newest complete
#     checkpoint: the final model must be byte-identical to an uninterrupted run's, and no checkpoint
#     that looks complete (has trainer_state.json) may be missing a file or fail to load;
#  2. a full output disk (a small tmpfs, or, where mounting is not allowed, writes failing with ENOSPC
#     after a byte budget through an LD_PRELOAD shim): a clear error, and the checkpoints written
#     before it, the best one among them, still load.
#
#   tests/catalogue/interruptions.sh FTLIB_TOOL BACKEND WORK_DIR [TRIALS]
set -u
ftlib=$1
backend=$2
work=$3
trials=${4:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
data=$root/tests/data/trainer
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
failures=0
fail() {
  failures=$((failures + 1))
  echo "FAIL $*"
}

# Dropout on (the tiny config's 0.1) so that resume must also restore the RNG stream; 80 steps.
run=(train --backend "$backend" --model "$data/tiny-distilbert" --train "$data/reviews.csv" --validation "$data/reviews.csv"
     --label-column sentiment --max-length 24 --per-device-train-batch-size 4 --num-train-epochs 8 --eval-steps 5
     --save-steps 2 --logging-steps 1 --learning-rate 1e-3 --disable-tqdm)

start=$(date +%s%N)
"$ftlib" "${run[@]}" --save-total-limit 3 --output reference > reference.log 2>&1 || { cat reference.log; echo "FAIL: the uninterrupted run"; exit 1; }
runtime_ms=$((($(date +%s%N) - start) / 1000000))
echo "uninterrupted run: $runtime_ms ms"

# complete_checkpoints_load DIR: every checkpoint with trainer_state.json has all its files and loads.
complete_checkpoints_load() {
  local c
  for c in "$1"/checkpoint-*; do
    [[ -f "$c/trainer_state.json" ]] || continue
    for f in config.json model.safetensors optimizer.safetensors vocab.txt; do
      [[ -f "$c/$f" ]] || { fail "$c has trainer_state.json but no $f"; return; }
    done
    "$ftlib" inspect "$c" > /dev/null 2>&1 || fail "$c looks complete but does not load: $("$ftlib" inspect "$c" 2>&1 | tail -n 1)"
  done
}

# --- 1. kill -9 and resume ----------------------------------------------------------------------
RANDOM=${FTLIB_INTERRUPTION_SEED:-7}
for trial in $(seq 1 "$trials"); do
  out=trial-$trial
  # Uniform over the last 80% of the run (the first part is mostly loading the backend).
  kill_ms=$((runtime_ms / 5 + RANDOM % (runtime_ms * 4 / 5 + 1)))
  "$ftlib" "${run[@]}" --save-total-limit 3 --output "$out" > "$out.log" 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((kill_ms / 1000)) $((kill_ms % 1000)))"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  complete_checkpoints_load "$out"
  resumes=0
  # Resume until the run completes (a resume can itself be killed in a longer test; here it runs out).
  if compgen -G "$out/checkpoint-*/trainer_state.json" > /dev/null; then
    "$ftlib" "${run[@]}" --save-total-limit 3 --output "$out" --resume-from-checkpoint > "$out.resume.log" 2>&1 ||
      { fail "trial $trial: resume failed: $(tail -n 2 "$out.resume.log")"; continue; }
    resumes=1
  else
    "$ftlib" "${run[@]}" --save-total-limit 3 --output "$out" --overwrite-output-dir > "$out.resume.log" 2>&1 ||
      { fail "trial $trial: restart failed: $(tail -n 2 "$out.resume.log")"; continue; }
  fi
  if cmp -s reference/model.safetensors "$out/model.safetensors"; then
    echo "ok   trial $trial: killed at $kill_ms ms, $( ((resumes)) && echo resumed || echo restarted), final model identical"
  else
    fail "trial $trial: killed at $kill_ms ms; the final model differs from the uninterrupted run's"
  fi
  # The log holds each step once.
  steps=$(grep -c '"loss"' "$out/train_log.jsonl")
  want=$(grep -c '"loss"' reference/train_log.jsonl)
  [[ "$steps" == "$want" ]] || fail "trial $trial: train_log.jsonl has $steps step records, the uninterrupted run $want"
done

# --- 2. the output disk fills up ------------------------------------------------------------------
full=disk
mkdir -p "$full"
mounted=0
if [[ "${FTLIB_INTERRUPTION_NO_MOUNT:-0}" != 1 ]] && mount -t tmpfs -o size=600k tmpfs "$full" 2> /dev/null; then
  mounted=1
  prefix=()
  how="a 600 kB tmpfs"
else
  # No mount allowed: fail every write to the output once 600 kB have been written there.
  cc -shared -fPIC -O1 -o enospc.so "$root/tests/catalogue/enospc_shim.c" -ldl || { echo "FAIL: cannot build the shim"; exit 1; }
  prefix=(env LD_PRELOAD="$work/enospc.so" FTLIB_ENOSPC_DIR="$work/$full" FTLIB_ENOSPC_BYTES=600000)
  how="writes failing with ENOSPC after 600 kB (LD_PRELOAD shim)"
fi
"${prefix[@]}" "$ftlib" "${run[@]}" --save-total-limit 100 --output "$full/run" > disk.log 2>&1
rc=$?
if [[ $rc -eq 1 ]] && grep -q -E "No space left on device|ENOSPC|cannot write|write failed" disk.log; then
  echo "ok   disk full ($how): exit 1, $(grep -m1 -E 'error' disk.log | cut -c1-150)"
else
  fail "disk full ($how): exit $rc, expected 1 with a message about the full disk: $(tail -n 2 disk.log)"
fi
saved=$(compgen -G "$full/run/checkpoint-*/trainer_state.json" | wc -l)
[[ $saved -gt 0 ]] || fail "disk full: no checkpoint was written before the disk filled (make the disk larger)"
complete_checkpoints_load "$full/run"
best=$(sed -n -E 's/.*"best_step": ([0-9]+).*/\1/p' "$(ls -d "$full"/run/checkpoint-* | sort -t- -k2 -n | tail -n 1)/trainer_state.json" 2> /dev/null)
if [[ -n "$best" ]]; then
  [[ -f "$full/run/checkpoint-$best/trainer_state.json" ]] || fail "disk full: the best checkpoint (step $best) is not on disk"
fi
echo "disk full: $saved complete checkpoints survive and load"
((mounted)) && umount "$full"

echo "interruptions ($backend): $trials kill trials, disk full; $failures failed"
[[ $failures -eq 0 ]]
