#!/usr/bin/env bash
# Fuzzes every parser that reads a user's file (tests/fuzz/fuzz_*.cpp) with libFuzzer, under
# AddressSanitizer and UndefinedBehaviorSanitizer, and prints one line per target: executions,
# executions per second, corpus size, crashes.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET...]
#
#   --seconds N  fuzzing time per target (default 60); 0 only replays the kept regression inputs
#   --jobs J     targets fuzzed at the same time (default: the number of cores)
#   TARGET       e.g. csv, safetensors (default: all of tests/fuzz/fuzz_*.cpp)
#
# Before fuzzing, each target replays tests/fuzz/regressions/<target>/ (inputs that once crashed:
# they must now parse or be refused cleanly). Seeds: tests/fuzz/corpus/<target>/ (committed, small)
# plus files of ../shared (FTLIB_SHARED_DIR) where they exist. A crash leaves its input in
# build-fuzz/crashes/<target>/ and the script exits 1: add the input to the regressions once fixed.
# The growing corpus lives in build-fuzz/corpus/<target>/ and is kept between runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
build="${FTLIB_FUZZ_BUILD:-$root/build-fuzz}"
seconds=60
jobs=$(nproc)
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in "$root"/tests/fuzz/fuzz_*.cpp; do
    t=$(basename "$f" .cpp)
    targets+=("${t#fuzz_}")
  done
fi

"$root/scripts/install-deps.sh"
mkdir -p "$build"
cxx=${FTLIB_FUZZ_CXX:-clang++}
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -I "$root/include" -I /usr/include/eigen3 -DFTLIB_SOURCE_DIR="\"$root\"")

# build TARGET: compiles tests/fuzz/fuzz_TARGET.cpp when it or a header changed.
build_target() {
  local src="$root/tests/fuzz/fuzz_$1.cpp" bin="$build/fuzz_$1"
  if [[ -x "$bin" ]] && [[ -z $(find "$src" "$root/tests/fuzz/fuzz_support.hpp" "$root/include" -newer "$bin" -print -quit) ]]; then
    return 0
  fi
  echo "fuzz.sh: building fuzz_$1"
  "$cxx" "${flags[@]}" "$src" -o "$bin" -lutf8proc
}

# shared_seeds TARGET DIR: the files of ../shared (and tests/data) that seed a target.
shared_seeds() {
  local dir=$2
  if [[ "$1" == pytorch_checkpoint ]]; then cp "$root"/tests/data/pytorch_checkpoints/*.bin "$root"/tests/data/pytorch_checkpoints/bad/* "$dir/"; fi
  [[ -d "$shared" ]] || return 0
  case "$1" in
    config) for f in "$shared"/fixtures/models/*/config.json; do cp "$f" "$dir/$(basename "$(dirname "$f")").json"; done ;;
    safetensors) for f in "$shared"/fixtures/models/*/model.safetensors; do
                   if [[ $(stat -c %s "$f") -lt 1000000 ]]; then cp "$f" "$dir/$(basename "$(dirname "$f")").safetensors"; fi
                 done ;;
    csv) for f in "$shared"/data/*/*.csv; do head -c 20000 "$f" > "$dir/$(basename "$f")"; done ;;
    spiece_model) cp "$shared/vocab/albert-base-v2/spiece.model" "$dir/" ;;
    vocab) head -c 30000 "$shared/vocab/bert-base-uncased/vocab.txt" > "$dir/vocab.txt" ;;
    wordpiece_encode|sentencepiece_encode) for f in "$shared"/data/*/*.csv; do head -c 2000 "$f" > "$dir/$(basename "$f")"; done ;;
  esac
}

# run TARGET: replays the regressions, then fuzzes for $seconds; prints the summary line.
run_target() {
  local t=$1 bin="$build/fuzz_$1" corpus="$build/corpus/$1" seeds="$build/seeds/$1" crashes="$build/crashes/$1"
  local log="$build/fuzz_$1.log"
  mkdir -p "$corpus" "$seeds" "$crashes"
  shared_seeds "$t" "$seeds"
  local regressions="$root/tests/fuzz/regressions/$t"
  if [[ -d "$regressions" ]] && compgen -G "$regressions/*" > /dev/null; then
    if ! "$bin" "$regressions"/* > "$build/fuzz_$t.regressions.log" 2>&1; then
      echo "fuzz_$t: a kept regression input fails again:"
      tail -n 30 "$build/fuzz_$t.regressions.log"
      return 1
    fi
  fi
  if [[ "$seconds" -eq 0 ]]; then
    echo "fuzz_$t: regressions replayed, no fuzzing (--seconds 0)"
    return 0
  fi
  local dirs=("$corpus" "$seeds")
  [[ -d "$root/tests/fuzz/corpus/$t" ]] && dirs+=("$root/tests/fuzz/corpus/$t")
  local rc=0
  (cd "$crashes" && "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
     -print_final_stats=1 "${dirs[@]}") > "$log" 2>&1 || rc=$?
  local runs per_s units
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  per_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  units=$(find "$corpus" -type f | wc -l)
  local found
  found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf 'fuzz_%-22s %12s executions %8s/s  corpus %6s  crashes %s\n' "$t" "${runs:-?}" "${per_s:-?}" "$units" "$found"
  rm -rf /dev/shm/ftlib-fuzz-* 2>/dev/null || true
  if [[ $rc -ne 0 || $found -ne 0 ]]; then
    echo "fuzz_$t: FOUND A PROBLEM (exit $rc); its input is in $crashes; the report:"
    grep -m1 -A25 -E 'ERROR: |runtime error|SUMMARY' "$log" || tail -n 30 "$log"
    return 1
  fi
}

for t in "${targets[@]}"; do
  [[ -f "$root/tests/fuzz/fuzz_$t.cpp" ]] || { echo "fuzz.sh: no target tests/fuzz/fuzz_$t.cpp" >&2; exit 2; }
done
# Builds one after the other (each is a full sanitizer build of its headers), then fuzz $jobs at a time.
for t in "${targets[@]}"; do build_target "$t"; done
echo "fuzz.sh: ${#targets[@]} targets, $seconds s each, $jobs at a time (clang $("$cxx" -dumpversion), ASan + UBSan)"
status=0
running=0
for t in "${targets[@]}"; do
  { run_target "$t" || { echo "fuzz_$t: FAILED"; exit 1; }; } &
  running=$((running + 1))
  if [[ $running -ge $jobs ]]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [[ $running -gt 0 ]]; do
  wait -n || status=1
  running=$((running - 1))
done
[[ $status -eq 0 ]] && echo "fuzz.sh: no crashes" || echo "fuzz.sh: FAILED (see above)"
exit $status
