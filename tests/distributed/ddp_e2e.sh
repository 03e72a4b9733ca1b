#!/usr/bin/env bash
# Data-parallel training end to end with the `ftlib` tool on c10d Gloo over loopback (and over a
# veth pair between two network namespaces). A tiny BERT from scratch on tests/data/trainer/reviews.csv
# (40 rows: 5 batches of 8, so no epoch ends on a short batch), dropout 0, one thread per process.
#
#   ddp_e2e.sh MODE FTLIB COMPARE_MODELS MODEL_DIR DATA WORK
#   MODE equivalence  2 processes x batch 4 (and x batch 2 with accumulation 2) train the same model as
#                     1 process x batch 8: weights within TOLERANCE, the same logged losses and evaluation;
#                     rank 0 alone wrote the outputs
#   MODE failures     a killed worker stops the others (torchrun-style launch and --nproc-per-node) within the
#                     timeout, the last checkpoint resumes to the uninterrupted run's weights, a resume on
#                     another number of processes is refused, a taken port / unreachable store / bad
#                     variable / Eigen backend are clear errors
#   MODE torchrun     the same under PyPI's torchrun (--no-python), with its agent store and without; SKIPPED
#                     (exit 77) without scripts/python_env.sh's venv
#   MODE two_hosts    one worker in each of two network namespaces joined by a veth pair (MASTER_ADDR the
#                     first's address): the multi-machine path; SKIPPED (exit 77) where namespaces cannot be made
set -uo pipefail
mode=$1 ftlib=$2 compare=$3 model=$4 data=$5 work=$6
# float32 sums in another order (two half-batch gradients all-reduced vs one batch), over 10 AdamW
# steps: measured 6e-8 here (largest of every tensor); 1e-5 leaves room and still catches a wrong
# average, a wrong share of the data or a missed all-reduce (each moves weights by > 1e-3).
tolerance=1e-5
rm -rf "$work" && mkdir -p "$work"

fail() { echo "FAIL: $*"; exit 1; }
common=(train --backend libtorch --model "$model" --train "$data" --validation "$data" --label-column sentiment
        --logging-steps 1 --learning-rate 2e-3 --dropout 0 --seed 3
        --threads 1 --disable-tqdm --report-to none --no-load-best-model-at-end)
short=(--num-train-epochs 2 --eval-steps 5)

# A port nobody listens on now (the store's host refuses a taken one clearly, so a clash would show).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
}

# The value of "key" in a flat part of a JSON file (numbers only), e.g. json_number metrics.json accuracy.
json_number() { grep -o "\"$2\": *[-0-9.eE+]*" "$1" | head -1 | sed 's/.*: *//'; }

# Starts one worker of a torchrun-style launch in the background: worker RANK WORLD PORT LOG args...
worker() {
  local rank=$1 world=$2 port=$3 log=$4
  shift 4
  RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=$world LOCAL_WORLD_SIZE=$world MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$ftlib" "$@" > "$log" 2>&1 &
}

# Waits (up to 30 s) until the run in directory $1 has written a complete checkpoint (any: with
# save_total_limit the early ones are rotated away within milliseconds); false if none appeared.
wait_for_checkpoint() {
  local _
  for _ in $(seq 600); do
    compgen -G "$1/checkpoint-*/trainer_state.json" > /dev/null && return 0
    sleep 0.05
  done
  return 1
}

# Waits (up to $2 s) for background job $1 to end; sets `status` to its exit code, or "timeout".
wait_for_exit() {
  local pid=$1 limit=$2 start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - start > limit)); then status=timeout; return; fi
    sleep 0.2
  done
  wait "$pid"
  status=$?
}

check_same_model() {  # check_same_model DIR_A DIR_B TOLERANCE WHAT
  echo "--- $4"
  "$compare" "$1/model.safetensors" "$2/model.safetensors" "$3" || fail "$4: the weights differ"
}

case "$mode" in
equivalence)
  "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 8 --output "$work/single" > "$work/single.log" 2>&1 ||
    { cat "$work/single.log"; fail "single-process run"; }
  "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 4 --nproc-per-node 2 --output "$work/dp2" > "$work/dp2.log" 2>&1 ||
    { cat "$work/dp2.log"; fail "2 processes x batch 4"; }
  "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 2 --gradient-accumulation-steps 2 --nproc-per-node 2 --ddp-check-replicas \
    --output "$work/dp2ga2" > "$work/dp2ga2.log" 2>&1 || { cat "$work/dp2ga2.log"; fail "2 processes x batch 2 x accumulation 2"; }
  check_same_model "$work/single" "$work/dp2" $tolerance "2 x batch 4 vs 1 x batch 8"
  check_same_model "$work/single" "$work/dp2ga2" $tolerance "2 x batch 2 x accumulation 2 vs 1 x batch 8"
  for run in dp2 dp2ga2; do
    grep -q '"world_size": 2' "$work/$run/run_settings.json" || fail "$run: run_settings.json does not record world_size 2"
    # Every step logged once (rank 0 alone writes): the same number of loss lines as the single run.
    n_single=$(grep -c '"loss"' "$work/single/train_log.jsonl")
    n_run=$(grep -c '"loss"' "$work/$run/train_log.jsonl")
    [ "$n_single" -eq 10 ] && [ "$n_run" -eq "$n_single" ] || fail "$run: $n_run loss lines, the single run $n_single (expected 10 each)"
    # The logged loss of every step (the mean over the processes) equals the single run's to 5 digits.
    paste <(grep -o '"loss": *[-0-9.eE+]*' "$work/single/train_log.jsonl") <(grep -o '"loss": *[-0-9.eE+]*' "$work/$run/train_log.jsonl") |
      awk -v run="$run" '{ gsub(/"loss": */, ""); a = $1; b = $2; d = a - b; if (d < 0) d = -d;
                           if (d > 1e-5 * (a < 0 ? -a : a) + 1e-7) { print run ": step " NR " loss " b ", single " a; bad = 1 } }
                         END { exit bad }' || fail "$run: logged losses differ from the single run's"
    # The sharded, gathered evaluation: the same accuracy and loss as the single process.
    for key in accuracy f1_macro; do
      a=$(json_number "$work/single/metrics.json" "$key")
      b=$(json_number "$work/$run/metrics.json" "$key")
      [ -n "$a" ] && [ "$a" = "$b" ] || fail "$run: validation $key $b, single run $a"
    done
    a=$(json_number "$work/single/metrics.json" loss)
    b=$(json_number "$work/$run/metrics.json" loss)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * a) }' ||
      fail "$run: validation loss $b, single run $a"
    echo "$run: 10 logged losses and the validation accuracy/F1/loss equal the single run's"
  done
  grep -q "data-parallel: 2 processes" "$work/dp2.log" || fail "the data-parallel run did not say so"
  ;;

failures)
  long=(--per-device-train-batch-size 4 --num-train-epochs 120 --save-steps 2 --save-total-limit 3 --eval-steps 1000 --ddp-timeout 30)
  # 1. torchrun-style launch, worker 1 killed mid-run: worker 0 must stop by itself, naming its rank.
  port=$(free_port)
  worker 0 2 "$port" "$work/kill.rank0.log" "${common[@]}" "${long[@]}" --output "$work/kill"
  pid0=$!
  worker 1 2 "$port" "$work/kill.rank1.log" "${common[@]}" "${long[@]}" --output "$work/kill"
  pid1=$!
  wait_for_checkpoint "$work/kill" || { cat "$work/kill.rank0.log"; fail "no checkpoint appeared"; }
  kill -0 "$pid0" 2>/dev/null || { cat "$work/kill.rank0.log"; fail "the run ended before a worker could be killed"; }
  kill -9 "$pid1"
  killed_at=$SECONDS
  wait_for_exit "$pid0" 60
  [ "$status" != timeout ] || { kill -9 "$pid0"; fail "rank 0 still running 60 s after rank 1 was killed (it hangs)"; }
  [ "$status" -ne 0 ] || fail "rank 0 exited 0 although rank 1 was killed"
  grep -q "rank 0 of 2" "$work/kill.rank0.log" || { cat "$work/kill.rank0.log"; fail "rank 0's error does not name its rank"; }
  echo "rank 1 killed: rank 0 exited $status after $((SECONDS - killed_at)) s: $(grep 'error' "$work/kill.rank0.log" | head -1 | cut -c1-200)"
  last=$(ls -d "$work"/kill/checkpoint-* | sed 's/.*checkpoint-//' | sort -n | while read -r s; do
           [ -f "$work/kill/checkpoint-$s/trainer_state.json" ] && echo "$s"; done | tail -1)
  [ -n "$last" ] && [ "$last" -lt 600 ] || fail "no complete checkpoint left, or the run was not cut short (last: $last)"
  echo "newest complete checkpoint: checkpoint-$last (of 600 steps)"

  # 2. A resume on another number of processes is refused, naming the flag and both counts.
  "$ftlib" "${common[@]}" "${long[@]}" --resume-from-checkpoint --output "$work/kill" > "$work/resume1.log" 2>&1 &&
    fail "a 1-process resume of a 2-process checkpoint was accepted"
  grep -q "written by a run on 2 process(es); this run has 1" "$work/resume1.log" || { cat "$work/resume1.log"; fail "unclear refusal"; }

  # 3. The same world size resumes from the last checkpoint and ends where an uninterrupted run ends.
  "$ftlib" "${common[@]}" "${long[@]}" --nproc-per-node 2 --resume-from-checkpoint --output "$work/kill" > "$work/resume2.log" 2>&1 ||
    { cat "$work/resume2.log"; fail "the 2-process resume failed"; }
  "$ftlib" "${common[@]}" "${long[@]}" --nproc-per-node 2 --output "$work/full" > "$work/full.log" 2>&1 ||
    { cat "$work/full.log"; fail "the uninterrupted 2-process run failed"; }
  check_same_model "$work/full" "$work/kill" 0 "killed at step ~$last and resumed vs uninterrupted (bitwise)"

  # 4. --nproc-per-node: a worker killed, the launcher stops the other and reports the rank.
  "$ftlib" "${common[@]}" "${long[@]}" --nproc-per-node 2 --output "$work/launcher" > "$work/launcher.log" 2>&1 &
  launcher=$!
  wait_for_checkpoint "$work/launcher" || { kill -9 "$launcher"; cat "$work/launcher.log"; fail "no checkpoint appeared"; }
  victim=""
  for child in $(pgrep -P "$launcher"); do
    tr '\0' '\n' < "/proc/$child/environ" 2>/dev/null | grep -qx "RANK=1" && victim=$child
  done
  [ -n "$victim" ] || { kill -9 "$launcher"; cat "$work/launcher.log"; fail "no worker with RANK=1 under the launcher"; }
  kill -9 "$victim"
  wait_for_exit "$launcher" 60
  [ "$status" != timeout ] || { pkill -9 -P "$launcher"; kill -9 "$launcher"; fail "the launcher still runs 60 s after a worker died"; }
  [ "$status" -ne 0 ] || fail "the launcher exited 0 although a worker was killed"
  grep -q "worker rank 1 (pid $victim) was killed by signal 9" "$work/launcher.log" || { cat "$work/launcher.log"; fail "the launcher did not name the dead worker"; }
  pgrep -P "$launcher" > /dev/null && fail "workers outlived the launcher"
  echo "--nproc-per-node: worker 1 killed, the launcher exited $status: $(grep 'worker rank 1' "$work/launcher.log")"

  # 5. A port already in use: a second store host on it is refused at once, naming MASTER_PORT.
  port=$(free_port)
  worker 0 2 "$port" "$work/holder.log" "${common[@]}" --per-device-train-batch-size 4 --ddp-timeout 60 --output "$work/holder"
  holder=$!
  for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$ftlib" "${common[@]}" --output "$work/clash" > "$work/clash.log" 2>&1 &&
    fail "a second run on a taken port was accepted"
  kill -9 "$holder" 2>/dev/null
  grep -q "MASTER_PORT: $port is already in use" "$work/clash.log" || { cat "$work/clash.log"; fail "unclear error for a taken port"; }
  echo "taken port: $(grep error "$work/clash.log" | cut -c1-160)"

  # 6. A store nobody hosts: rank 1 alone gives up after --ddp-timeout, naming its rank and the address.
  port=$(free_port)
  start=$SECONDS
  RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$ftlib" "${common[@]}" --ddp-timeout 3 --output "$work/alone" > "$work/alone.log" 2>&1 &&
    fail "rank 1 without rank 0 succeeded"
  ((SECONDS - start < 60)) || fail "rank 1 took $((SECONDS - start)) s to give up (timeout 3 s)"
  grep -q "rank 1 of 2: cannot reach the rendezvous store at 127.0.0.1:$port" "$work/alone.log" || { cat "$work/alone.log"; fail "unclear error for an unreachable store"; }
  echo "unreachable store: gave up after $((SECONDS - start)) s"

  # 7. Bad launch variables and the single-process Eigen backend are clear errors.
  RANK=x WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1234 "$ftlib" "${common[@]}" --output "$work/bad" > "$work/bad.log" 2>&1 &&
    fail "RANK=x was accepted"
  grep -q "RANK: 'x' is not an integer" "$work/bad.log" || { cat "$work/bad.log"; fail "unclear error for RANK=x"; }
  RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1234 "$ftlib" "${common[@]/libtorch/eigen}" --output "$work/eigen" > "$work/eigen.log" 2>&1 &&
    fail "the Eigen backend accepted a data-parallel run"
  grep -q -- "--backend: the Eigen backend trains in one process" "$work/eigen.log" || { cat "$work/eigen.log"; fail "unclear error for eigen"; }
  echo "bad variables and --backend eigen: clear errors"
  ;;

torchrun)
  # The real torchrun (PyPI's torch, from scripts/python_env.sh's venv): `torchrun --no-python ftlib train`.
  root=$(cd "$(dirname "$0")/../.." && pwd)
  venv=$("$root/scripts/python_env.sh" --check) || { echo "SKIPPED: no Python venv (scripts/python_env.sh): no torchrun to run"; exit 77; }
  "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 8 --output "$work/single" > "$work/single.log" 2>&1 ||
    { cat "$work/single.log"; fail "single-process run"; }
  # torchrun's default: its agent hosts the store (TORCHELASTIC_USE_AGENT_STORE=True), every rank a client.
  # LibTorch 1.x cannot speak to a torch 2.x store and must refuse at once, naming the variable.
  port=$(free_port)
  timeout 300 "$venv/bin/torchrun" --no-python --nproc-per-node 2 --master-port "$port" \
    "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 4 --output "$work/agent" > "$work/agent.log" 2>&1
  rc=$?
  if [ "${FTLIB_TORCH_MAJOR:-2}" -ge 2 ]; then
    [ $rc -eq 0 ] || { cat "$work/agent.log"; fail "torchrun (agent store): exit $rc"; }
    check_same_model "$work/single" "$work/agent" $tolerance "torchrun, agent store (2 x batch 4) vs 1 x batch 8"
  else
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "torchrun (agent store) on LibTorch 1.x: exit $rc (expected a refusal, not success or a hang)"
    grep -q "TORCHELASTIC_USE_AGENT_STORE: torchrun hosts the rendezvous store itself" "$work/agent.log" ||
      { cat "$work/agent.log"; fail "torchrun (agent store) on LibTorch 1.x: no clear refusal"; }
    echo "torchrun's agent store on LibTorch 1.x: refused with a clear message"
  fi
  # Rank 0 hosting its own store (c10d rendezvous without a shared store): works on every LibTorch.
  port=$(free_port)
  TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 timeout 300 "$venv/bin/torchrun" --no-python --nproc-per-node 2 --rdzv-backend c10d \
    --rdzv-endpoint "127.0.0.1:$port" "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 4 --output "$work/own" \
    > "$work/own.log" 2>&1 || { cat "$work/own.log"; fail "torchrun (rank 0's own store)"; }
  check_same_model "$work/single" "$work/own" $tolerance "torchrun, rank 0's own store (2 x batch 4) vs 1 x batch 8"
  ;;

two_hosts)
  tag=$$
  ns_a=ftlib-a-$tag ns_b=ftlib-b-$tag
  cleanup() { ip netns del "$ns_a" 2>/dev/null; ip netns del "$ns_b" 2>/dev/null; }
  trap cleanup EXIT
  if ! { ip netns add "$ns_a" && ip netns add "$ns_b" && ip link add "fva$tag" type veth peer name "fvb$tag" &&
         ip link set "fva$tag" netns "$ns_a" && ip link set "fvb$tag" netns "$ns_b" &&
         ip -n "$ns_a" addr add 10.231.7.1/24 dev "fva$tag" && ip -n "$ns_b" addr add 10.231.7.2/24 dev "fvb$tag" &&
         ip -n "$ns_a" link set "fva$tag" up && ip -n "$ns_b" link set "fvb$tag" up &&
         ip -n "$ns_a" link set lo up && ip -n "$ns_b" link set lo up; } 2> "$work/netns.log"; then
    echo "SKIPPED: cannot make network namespaces here ($(head -1 "$work/netns.log"))"
    exit 77
  fi
  "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 8 --output "$work/single" > "$work/single.log" 2>&1 ||
    { cat "$work/single.log"; fail "single-process run"; }
  run_in() {  # run_in NAMESPACE RANK LOG
    ip netns exec "$1" env RANK="$2" LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 MASTER_ADDR=10.231.7.1 MASTER_PORT=29512 \
      "$ftlib" "${common[@]}" "${short[@]}" --per-device-train-batch-size 4 --ddp-timeout 60 --output "$work/hosts" > "$3" 2>&1
  }
  run_in "$ns_a" 0 "$work/host_a.log" &
  a=$!
  run_in "$ns_b" 1 "$work/host_b.log" &
  b=$!
  wait $a; ra=$?
  wait $b; rb=$?
  [ $ra -eq 0 ] && [ $rb -eq 0 ] || { cat "$work/host_a.log" "$work/host_b.log"; fail "two hosts: exit $ra and $rb"; }
  grep -q "rendezvous 10.231.7.1:29512" "$work/host_a.log" || fail "host a did not meet at 10.231.7.1"
  check_same_model "$work/single" "$work/hosts" $tolerance "two hosts over veth (2 x batch 4) vs 1 x batch 8"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
echo "PASS: ddp_e2e $mode"
