#!/usr/bin/env bash
# Tokenizer load time and throughput: ftlib (benchmarks/tokenizer_throughput) side by side with
# HuggingFace's Rust `tokenizers` from PyPI (benchmarks/hf_tokenizers.py, in the venv of
# scripts/python_env.sh), both measured in this run on the same review texts, one thread and all threads.
# Checks that both read the same texts (count, bytes, digest) and that the ids of every text are identical;
# the one exception it accepts is a Unigram (albert-base-v2) text whose two segmentations it proves to be
# an exact Viterbi tie (same pieces' text, equal total score), which it lists. Any other difference fails.
# Prints a markdown table with the ratios ftlib / HF.
#
#   scripts/bench_tokenizers.sh [--build DIR] [--seconds S] [--rounds R] [--threads N] [--out FILE]
#
#   --build DIR   CMake build folder (default $FTLIB_BENCH_BUILD, else build); configured (Release,
#                 without LibTorch) if new
#   --seconds S   timed seconds of every measurement (default 3)
#   --rounds R    rounds of ftlib, HF one thread, HF N threads, back to back; the table keeps each
#                 measurement's best round, which is the least disturbed one on a shared machine (default 3)
#   --threads N   threads of the batch runs (default: nproc)
#   --out FILE    raw results, one JSON line per measurement (default <build>/tokenizer-bench.jsonl)
#
# Needs cmake and the Python venv (created on first use by scripts/python_env.sh, from PyPI).
# FTLIB_SHARED_DIR: default ../shared.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${FTLIB_BENCH_BUILD:-$root/build}"
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
seconds=3
rounds=3
threads=$(nproc)
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench_tokenizers.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$build" = /* ]] || build="$root/$build"
out="${out:-$build/tokenizer-bench.jsonl}"
export FTLIB_SHARED_DIR="$shared"
if [[ ! -d "$shared/data/amazon_reviews_5class" ]]; then
  echo "SKIPPED: no review texts under $shared/data/amazon_reviews_5class"
  exit 0
fi
command -v cmake >/dev/null || { echo "bench_tokenizers.sh: 'cmake' not found (needed)" >&2; exit 1; }
venv=$("$root/scripts/python_env.sh")
python="$venv/bin/python"

# --- ftlib --------------------------------------------------------------------------------------------
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFTLIB_WITH_LIBTORCH=OFF \
    -DFTLIB_BUILD_TESTS=OFF -DFTLIB_BUILD_EXAMPLES=OFF -DFTLIB_BUILD_BENCHMARKS=ON >&2
fi
cmake --build "$build" --target tokenizer_throughput -j"$(nproc)" >&2
bench="$build/benchmarks/tokenizer_throughput"

ids="$build/tokenizer-bench-ids"
rm -rf "$ids"
mkdir -p "$ids" "$(dirname "$out")"
: > "$out"
before=$(uptime)
echo "== $before"
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $("$python" --version)"
part="$build/tokenizer-bench-part.txt"
# Runs one benchmark process; its human lines are shown, its JSON lines appended to $out (and shown).
run_part() {
  "$@" > "$part"
  grep -v '^JSON ' "$part" || true
  grep '^JSON ' "$part" | cut -c6- | tee -a "$out"
}
for ((r = 1; r <= rounds; ++r)); do
  id_flag=()
  [[ $r -eq 1 ]] && id_flag=(--ids-dir "$ids")
  echo "== round $r/$rounds: ftlib"
  run_part "$bench" --seconds "$seconds" --threads "$threads" --json "${id_flag[@]}"
  echo "== round $r/$rounds: HF one thread (encode; encode_batch(_fast) with TOKENIZERS_PARALLELISM=false)"
  TOKENIZERS_PARALLELISM=false run_part "$python" "$root/benchmarks/hf_tokenizers.py" \
    --shared "$shared" --seconds "$seconds" --mode both "${id_flag[@]}"
  echo "== round $r/$rounds: HF $threads threads (encode_batch(_fast), RAYON_NUM_THREADS=$threads)"
  TOKENIZERS_PARALLELISM=true RAYON_NUM_THREADS="$threads" run_part "$python" "$root/benchmarks/hf_tokenizers.py" \
    --shared "$shared" --seconds "$seconds" --mode batch
done
after=$(uptime)
echo "== $after"

"$python" - "$out" "$ids" "$threads" "$shared" <<'EOF'
import json, math, sys
out, ids, threads, shared = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = [json.loads(line) for line in open(out) if line.strip()]
names = ["bert-base-uncased", "albert-base-v2"]
failures = []

def fail(message):
    print("bench_tokenizers.sh: FAILED: " + message, file=sys.stderr)
    sys.exit(1)

inputs = {(r["texts"], r["bytes"], r["digest"]) for r in rows}
if len(inputs) != 1:
    fail(f"ftlib and HF read different inputs: {sorted(inputs)}")
texts, nbytes, digest = next(iter(inputs))
print(f"input: {texts} texts, {nbytes} bytes, digest {digest} (same in ftlib and HF)")

# Ids of every text, ftlib vs HF.
for name in names:
    a = open(f"{ids}/ftlib.{name}.jsonl").read().splitlines()
    b = open(f"{ids}/hf.{name}.jsonl").read().splitlines()
    if len(a) != len(b) or len(a) != texts:
        fail(f"{name}: {len(a)} vs {len(b)} lines of ids for {texts} texts")
    model = json.load(open(f"{shared}/vocab/{name}/tokenizer.json"))["model"]
    ties, differ = [], []
    for k, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue
        x, y = json.loads(x), json.loads(y)
        if model["type"] == "Unigram":
            # Both segmentations cover the same text with the same total score: an equal-score tie of
            # the Viterbi search, which SentencePiece (ftlib) and HF's Unigram break differently.
            vocab = model["vocab"]
            text = lambda ids_: "".join(vocab[i][0] for i in ids_)
            score = lambda ids_: math.fsum(vocab[i][1] for i in ids_)
            if text(x) == text(y) and score(x) == score(y):
                i = 0
                while x[i] == y[i]:
                    i += 1
                j = 0
                while x[-1 - j] == y[-1 - j]:
                    j += 1
                ties.append(f"text {k + 1}: ftlib {[vocab[t][0] for t in x[i:len(x) - j]]} "
                            f"HF {[vocab[t][0] for t in y[i:len(y) - j]]}")
                continue
        differ.append(k + 1)
    print(f"ids {name}: {texts - len(ties) - len(differ)}/{texts} texts identical to HF" +
          (f"; {len(ties)} equal-score ties broken differently ({'; '.join(ties)})" if ties else "") +
          (f"; {len(differ)} DIFFER (text {', '.join(map(str, differ[:10]))})" if differ else ""))
    if differ:
        failures.append(f"{name}: ids of {len(differ)} texts differ between ftlib and HF")

def best(impl, tok, mode, t=None):
    m = [r for r in rows if r["impl"] == impl and r["tokenizer"] == tok and r["mode"] == mode
         and (t is None or r["threads"] == t)]
    if not m:
        return None
    if mode == "load":
        return {"load_s": min(r["load_s"] for r in m)}
    return {k: max(r[k] for r in m) for k in ("mb_s", "tokens_s", "cpu_mb_s", "threads_busy")} | \
           {"empty_call_us": min(r.get("empty_call_us", math.inf) for r in m)}

f = lambda x, d=1: "—" if x is None else f"{x:.{d}f}"
print("\nMB/s = 10^6 input bytes per wall-clock second, best of the rounds; \"CPU\" = per CPU-second of the")
print("process (ftlib one thread: of the thread; HF encode(): of the thread). ftlib / HF divides by the faster")
print("HF call at that thread count. Load: Tokenizer.from_file(tokenizer.json) vs ftlib's from_pretrained(dir),")
print("fastest load of all rounds; its ratio is HF's time / ftlib's.\n")
print("| tokenizer | measurement | ftlib | HF encode() | HF encode_batch | HF encode_batch_fast | ftlib / HF | CPU: ftlib | CPU: HF | CPU: ftlib / HF |")
print("|---|---|---|---|---|---|---|---|---|---|")
for tok in names:
    ours, hf = best("ftlib", tok, "load"), best("hf", tok, "load")
    print(f"| {tok} | load, s | {f(ours['load_s'], 4)} | {f(hf['load_s'], 4)} (from_file) | | | "
          f"{f(hf['load_s'] / ours['load_s'])}x | | | |")
    for t in ([1] if threads == 1 else [1, threads]):
        ours = best("ftlib", tok, "encode" if t == 1 else "encode_batch", t)
        enc = best("hf", tok, "encode", 1) if t == 1 else None
        bat = best("hf", tok, "encode_batch", t)
        fast = best("hf", tok, "encode_batch_fast", t)
        hfs = [h for h in (enc, bat, fast) if h]
        hf_mb = max(h["mb_s"] for h in hfs)
        hf_cpu = max(h["cpu_mb_s"] for h in hfs)
        print(f"| {tok} | {t} thread{'s' if t > 1 else ''}, MB/s | {f(ours['mb_s'])} | {f(enc and enc['mb_s'], 2)} | "
              f"{f(bat and bat['mb_s'], 2)} | {f(fast and fast['mb_s'], 2)} | {f(ours['mb_s'] / hf_mb)}x | "
              f"{f(ours['cpu_mb_s'])} | {f(hf_cpu, 2)} | {f(ours['cpu_mb_s'] / hf_cpu)}x |")
calls = " / ".join(f(best("hf", t, "encode", 1)["empty_call_us"], 2) for t in names)
print(f"\nHF encode('') from Python: {calls} µs per call (bert / albert), the binding's share per text.")
if threads > 1:
    busy = "; ".join(f"{tok}: ftlib {f(best('ftlib', tok, 'encode_batch', threads)['threads_busy'], 2)}, "
                     f"HF {f(best('hf', tok, 'encode_batch', threads)['threads_busy'], 2)} / "
                     f"{f(best('hf', tok, 'encode_batch_fast', threads)['threads_busy'], 2)}" for tok in names)
    print(f"Threads busy in the {threads}-thread runs (CPU-seconds per second, best round; HF encode_batch / "
          f"encode_batch_fast): {busy}.")
for message in failures:
    print("bench_tokenizers.sh: FAILED: " + message, file=sys.stderr)
sys.exit(1 if failures else 0)
EOF
echo "raw results: $out"
