#!/usr/bin/env bash
# Tokenizer throughput: ftlib (benchmarks/tokenizer_throughput) side by side with HuggingFace's Rust
# `tokenizers` 0.22 (Node binding @anush008/tokenizers 0.6.0, benchmarks/hf_tokenizers.mjs), both measured
# in this run on the same review texts, one thread and all threads. Checks that both read the same texts,
# that the bert-base-uncased ids are identical for every text (fails otherwise) and counts the texts whose
# albert-base-v2 ids differ; prints a markdown table with the ratios ftlib / HF.
#
#   scripts/bench_tokenizers.sh [--build DIR] [--seconds S] [--rounds R] [--threads N] [--out FILE]
#
#   --build DIR   CMake build folder (default $FTLIB_BENCH_BUILD, else build); configured (Release) if new
#   --seconds S   timed seconds of every measurement (default 3)
#   --rounds R    rounds of ftlib, HF one thread, HF N threads, back to back; the table keeps each
#                 measurement's best round, which is the least disturbed one on a shared machine (default 3)
#   --threads N   threads of the batch runs (default: nproc)
#   --out FILE    raw results, one JSON line per measurement (default <build>/tokenizer-bench.jsonl)
#
# Needs node (>= 18) and npm: the binding is installed into ${XDG_CACHE_HOME:-$HOME/.cache}/ftlib-bench
# (outside the repository; override with FTLIB_HF_NODE_PREFIX). FTLIB_SHARED_DIR: default ../shared.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${FTLIB_BENCH_BUILD:-$root/build}"
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
prefix="${FTLIB_HF_NODE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/ftlib-bench}"
package="@anush008/tokenizers"
version="0.6.0"
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
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
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
for tool in node npm cmake; do
  command -v "$tool" >/dev/null || { echo "bench_tokenizers.sh: '$tool' not found (needed)" >&2; exit 1; }
done

# --- HF tokenizers' Node binding, outside the repository ------------------------------------------
modules="$prefix/node_modules"
installed=$(node -e "try{console.log(require('$modules/$package/package.json').version)}catch{console.log('')}")
if [[ "$installed" != "$version" ]]; then
  echo "== installing $package@$version into $prefix"
  mkdir -p "$prefix"
  [[ -f "$prefix/package.json" ]] || echo '{"private": true}' > "$prefix/package.json"
  npm install --prefix "$prefix" --no-audit --no-fund --no-package-lock "$package@$version" >&2
fi

# --- ftlib --------------------------------------------------------------------------------------------
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$build" --target tokenizer_throughput -j"$(nproc)" >&2
bench="$build/benchmarks/tokenizer_throughput"

ids="$build/tokenizer-bench-ids"
rm -rf "$ids"
mkdir -p "$ids" "$(dirname "$out")"
: > "$out"
before=$(uptime)
echo "== $before"
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), node $(node --version)"
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
  echo "== round $r/$rounds: HF one thread (encode; encodeBatch with TOKENIZERS_PARALLELISM=false)"
  TOKENIZERS_PARALLELISM=false run_part node "$root/benchmarks/hf_tokenizers.mjs" --modules "$modules" \
    --shared "$shared" --seconds "$seconds" --mode both "${id_flag[@]}"
  echo "== round $r/$rounds: HF $threads threads (encodeBatch, RAYON_NUM_THREADS=$threads)"
  TOKENIZERS_PARALLELISM=true RAYON_NUM_THREADS="$threads" run_part node "$root/benchmarks/hf_tokenizers.mjs" \
    --modules "$modules" --shared "$shared" --seconds "$seconds" --mode batch
done
after=$(uptime)
echo "== $after"

node - "$out" "$ids" "$threads" <<'EOF'
const fs = require('fs');
const [out, ids, threads] = process.argv.slice(2);
const rows = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const fail = (m) => { console.error('bench_tokenizers.sh: FAILED: ' + m); process.exit(1); };
const inputs = new Set(rows.map((r) => `${r.texts} texts, ${r.bytes} bytes`));
if (inputs.size !== 1) fail(`ftlib and HF read different inputs: ${[...inputs].join(' / ')}`);
console.log(`input: ${[...inputs][0]} (same in ftlib and HF)`);

// Ids of every text, ftlib vs HF.
let bertOk = true;
for (const name of ['bert-base-uncased', 'albert-base-v2']) {
  const a = fs.readFileSync(`${ids}/ftlib.${name}.jsonl`, 'utf8').split('\n');
  const b = fs.readFileSync(`${ids}/hf.${name}.jsonl`, 'utf8').split('\n');
  if (a.length !== b.length) fail(`${name}: ${a.length} vs ${b.length} lines of ids`);
  const differ = [];
  a.forEach((line, k) => { if (line !== b[k]) differ.push(k + 1); });
  const n = a.filter(Boolean).length;
  console.log(`ids ${name}: ${n - differ.length}/${n} texts identical to HF` +
              (differ.length ? ` (differ: text ${differ.slice(0, 10).join(', ')})` : ''));
  if (name === 'bert-base-uncased' && differ.length) bertOk = false;
}

const best = (impl, tok, mode, t) => {
  const m = rows.filter((r) => r.impl === impl && r.tokenizer === tok && r.mode === mode && r.threads === t);
  if (!m.length) return null;
  return { mb_s: Math.max(...m.map((r) => r.mb_s)), tokens_s: Math.max(...m.map((r) => r.tokens_s)),
           cpu_mb_s: Math.max(...m.map((r) => r.cpu_mb_s)), empty_call_us: Math.min(...m.map((r) => r.empty_call_us ?? Infinity)) };
};
const f = (x, d = 1) => (x == null ? '—' : x.toFixed(d));
const mtok = (x) => (x == null ? '—' : (x / 1e6).toFixed(2) + ' M');
const N = Number(threads);
console.log('\nMB/s = 10^6 input bytes per wall-clock second, best of the rounds; "CPU" = per CPU-second of the');
console.log('process (ftlib one thread: of the thread). ftlib/HF divides by the faster HF call at that thread count.\n');
console.log('| tokenizer | threads | ftlib MB/s | ftlib tokens/s | HF encode() MB/s | HF encodeBatch MB/s | ftlib / HF | CPU: ftlib MB/s | CPU: HF MB/s | CPU: ftlib / HF |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const tok of ['bert-base-uncased', 'albert-base-v2']) {
  for (const t of N === 1 ? [1] : [1, N]) {
    const ours = t === 1 ? best('ftlib', tok, 'encode', 1) : best('ftlib', tok, 'encode_batch', t);
    const enc = t === 1 ? best('hf', tok, 'encode', 1) : null;
    const bat = best('hf', tok, 'encode_batch', t);
    const hf = [enc, bat].filter(Boolean);
    const hfBest = Math.max(...hf.map((h) => h.mb_s));
    const hfCpu = Math.max(...hf.map((h) => h.cpu_mb_s));
    console.log(`| ${tok} | ${t} | ${f(ours.mb_s)} | ${mtok(ours.tokens_s)} | ${enc ? f(enc.mb_s, 2) : '—'} | ${bat ? f(bat.mb_s, 2) : '—'} | ` +
                `${f(ours.mb_s / hfBest)}x | ${f(ours.cpu_mb_s)} | ${f(hfCpu, 2)} | ${f(ours.cpu_mb_s / hfCpu)}x |`);
  }
}
const calls = ['bert-base-uncased', 'albert-base-v2'].map((t) => f(best('hf', t, 'encode', 1)?.empty_call_us)).join(' / ');
console.log(`\nHF encode('') through the binding: ${calls} µs per call (bert / albert), the binding's share per text.`);
if (!bertOk) fail('bert-base-uncased ids differ between ftlib and HF');
EOF
echo "raw results: $out"
