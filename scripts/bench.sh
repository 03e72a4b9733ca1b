#!/usr/bin/env bash
# Training-speed benchmarks: ftlib (LibTorch and Eigen backends) side by side with the real peer,
# HuggingFace transformers' own models on PyPI's torch (benchmarks/hf_train_step.py: eager as a notebook
# runs it, and with torch.compile), every number measured in this run, one process per configuration (so
# each peak RSS is that configuration's own). ftlib's LibTorch side runs on the same LibTorch 2.x (the
# wheel's, build-bench-pypi/) and on Debian's 1.13 for reference (build-bench/). Prints a table of ratios
# and keeps the raw JSON lines.
#
#   scripts/bench.sh [--quick] [--only step|gemm|eigen|epoch|evaluate]... [--threads N] [--out FILE]
#
#   --quick    distilbert 8x128 (fp32, bf16) and albert 8x128 only, eigen 8x128, epoch sampled
#   --no-compile  leave out the torch.compile peer (its compilation costs minutes per configuration)
#   --only X   run only that part (repeatable): gemm, step (ftlib vs HF), eigen, epoch, evaluate,
#              variants (distilbert 8x512 fp32 and bf16, 8x128 with --quick, with each side's allocator
#              and BLAS settings switched, to see what each contributes; not in the default run)
#   --threads  threads of every process (default 2, the machine's cores here)
#   --warmup N, --iters N  untimed and timed steps of every step process (default 2 and 5; torch.compile's
#              compilation falls in the warm-up)
#   --out      raw results (JSONL; default build-bench/bench-results.jsonl)
#   --clock cpu  time steps in CPU seconds of the whole process instead of wall-clock seconds, for
#              a machine that others are using (use with --threads 1: CPU time then hardly depends
#              on the load). The Python side gets the same clock (time.perf_counter is replaced by
#              time.process_time around hf_train_step.py, which is otherwise run unchanged).
#
# Environment: FTLIB_BENCH_BUILD (Debian-LibTorch build dir, default build-bench), FTLIB_BENCH_BUILD_PYPI
# (default build-bench-pypi), PYTHON (default: the venv of scripts/python_env.sh, created on first use),
# FTLIB_SHARED_DIR (default ../shared). Run it on an otherwise idle machine: the script prints
# `uptime` before and after so that a busy run can be recognised.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${FTLIB_BENCH_BUILD:-$root/build-bench}"
python="${PYTHON:-}"
build_pypi="${FTLIB_BENCH_BUILD_PYPI:-$root/build-bench-pypi}"
compile=1
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
threads=2
clock=wall
warmup=2
iters=5
quick=0
only=()
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --no-compile) compile=0 ;;
    --only) only+=("$2"); shift ;;
    --threads) threads="$2"; shift ;;
    --out) out="$2"; shift ;;
    --clock) clock="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --iters) iters="$2"; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
out="${out:-$build/bench-results.jsonl}"
wants() {
  [[ ${#only[@]} -eq 0 ]] && return 0
  local x
  for x in "${only[@]}"; do [[ "$x" == "$1" ]] && return 0; done
  return 1
}

"$root/scripts/install-deps.sh"
# The peer: transformers on PyPI's torch, from the project's virtual environment (benchmarks only; ftlib
# itself never needs Python). Its LibTorch is also the 2.x one ftlib is built against here.
[[ -n "$python" ]] || python="$("$root/scripts/python_env.sh")/bin/python"
torch_pypi="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')/Torch"
# build_bench DIR TORCH_DIR: the train_step binary against that LibTorch
build_bench() {
  if [[ ! -x "$1/benchmarks/train_step" ]]; then
    cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$2" \
      -DFTLIB_BUILD_TESTS=OFF -DFTLIB_BUILD_EXAMPLES=OFF -DFTLIB_BUILD_BENCHMARKS=ON >/dev/null
  fi
  cmake --build "$1" --target train_step >/dev/null
}
build_bench "$build" "/usr/lib/$(gcc -print-multiarch)/cmake/Torch"
build_bench "$build_pypi" "$torch_pypi"
bin="$build_pypi/benchmarks/train_step"       # ftlib on the peer's LibTorch 2.x
bin_debian="$build/benchmarks/train_step"     # ftlib on Debian's LibTorch 1.13, for reference
peer="$root/benchmarks/hf_train_step.py"

[[ "$clock" == wall || "$clock" == cpu ]] || { echo "bench.sh: --clock must be wall or cpu" >&2; exit 2; }
# hf ARGS...: hf_train_step.py, its step timer switched to process CPU time under --clock cpu
hf() {
  if [[ "$clock" == cpu ]]; then
    "$python" -c 'import runpy, sys, time; time.perf_counter = time.process_time; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' "$peer" "$@"
  else
    "$python" "$peer" "$@"
  fi
}

mkdir -p "$(dirname "$out")"
: >"$out"
echo "# $(date -u +%FT%TZ) on $(nproc) cores, $threads threads per process, $clock clock, $warmup+$iters steps; $(uptime)"
# The BLAS libraries obey these (Debian's LibTorch: OpenBLAS, where OPENBLAS_CORETYPE=Haswell halves its rate on
# AVX-512 machines; the wheel's: MKL).
echo "# environment: $(env | grep -E '^(OPENBLAS_|OMP_|GOMP_|MKL_|GLIBC_TUNABLES)' | sort | tr '\n' ' ')"

# run LABEL CMD...: one process, its JSON line appended to $out (a failure is recorded, not fatal)
run() {
  local label="$1"; shift
  echo "  running $label" >&2
  local line
  if line=$("$@" 2>"$build/bench-last.err" | tail -n 1) && [[ "$line" == "{"* ]]; then
    echo "{\"label\": \"$label\", ${line:1}" >>"$out"
  else
    local why
    why=$(tail -n 1 "$build/bench-last.err" | tr '"\\' "''" | cut -c1-300)
    echo "{\"failed\": \"$label\", \"error\": \"$why\"}" >>"$out"
  fi
}

if [[ $quick -eq 1 ]]; then
  configs=("distilbert 8 128" "albert 8 128")
else
  configs=("distilbert 8 128" "distilbert 8 512" "distilbert 32 128" "albert 8 128" "albert 8 512" "albert 32 128")
fi

# bf16 only where the CPU multiplies it natively (AVX512-BF16 or AMX): elsewhere LibTorch's CPU bf16 mm,
# in Python and C++ alike, is a scalar reference loop (~1 GFLOP/s; a bf16 step would take many minutes).
precisions=(fp32)
if grep -q -E '^flags.* (avx512_bf16|amx_bf16)( |$)' /proc/cpuinfo; then
  precisions+=(bf16)
else
  echo "# this CPU has no native bf16 (no avx512_bf16 or amx_bf16 flag): fp32 only"
fi

if wants gemm; then
  run "gemm" "$bin" gemm --n 2048 --threads "$threads" --clock "$clock"
fi
if wants step; then
  for c in "${configs[@]}"; do
    read -r model b t <<<"$c"
    for prec in "${precisions[@]}"; do
      flag=(); [[ $prec == bf16 ]] && flag=(--bf16)
      common=(--model "$model" --batch "$b" --seq "$t" --threads "$threads" --warmup "$warmup" --iters "$iters")
      # HF first, then ftlib: alternating keeps slow drifts of the machine from favouring one side.
      run "hf eager $model $b x $t $prec" hf "${common[@]}" --precision "$prec"
      [[ $compile -eq 1 ]] && run "hf compile $model $b x $t $prec" hf "${common[@]}" --precision "$prec" --compile
      # As the ftlib tool runs: --malloc retain (its main() keeps freed memory in the process) and
      # --cpu-allocator caching (its LibTorch sessions install ftlib's caching CPU allocator).
      run "ftlib libtorch $model $b x $t $prec" "$bin" step --backend libtorch "${common[@]}" --clock "$clock" --malloc retain --cpu-allocator caching "${flag[@]}"
      run "ftlib libtorch-1.13 $model $b x $t $prec" "$bin_debian" step --backend libtorch "${common[@]}" --clock "$clock" --malloc retain --cpu-allocator caching "${flag[@]}"
    done
  done
fi
if wants eigen; then
  eigen_configs=("8 128" "32 128")
  [[ $quick -eq 1 ]] && eigen_configs=("8 128")
  for c in "${eigen_configs[@]}"; do
    read -r b t <<<"$c"
    run "ftlib libtorch distilbert $b x $t fp32 (eigen pair)" "$bin" step --backend libtorch --model distilbert --batch "$b" --seq "$t" --threads "$threads" --warmup "$warmup" --iters "$iters" --clock "$clock"
    run "ftlib eigen distilbert $b x $t fp32" "$bin" step --backend eigen --model distilbert --batch "$b" --seq "$t" --threads "$threads" --warmup "$warmup" --iters "$iters" --clock "$clock"
  done
fi
if [[ ${#only[@]} -gt 0 ]] && wants variants; then
  # What each setting contributes: glibc keeping freed memory (the ftlib tool's mallopt; Python gets
  # the same through GLIBC_TUNABLES) and ftlib's caching CPU allocator.
  tunables="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864"
  # 8 x 512: the largest activations, where allocator policies differ most in speed and peak memory.
  variant_seq=512
  [[ $quick -eq 1 ]] && variant_seq=128
  for prec in "${precisions[@]}"; do
    flag=(); [[ $prec == bf16 ]] && flag=(--bf16)
    common=(--model distilbert --batch 8 --seq "$variant_seq" --threads "$threads" --warmup "$warmup" --iters "$iters" "${flag[@]}")
    hf_common=(--model distilbert --batch 8 --seq "$variant_seq" --threads "$threads" --warmup "$warmup" --iters "$iters" --precision "$prec")
    run "variant: python $prec" hf "${hf_common[@]}"
    GLIBC_TUNABLES="$tunables" run "variant: python $prec, malloc retain" hf "${hf_common[@]}"
    run "variant: ftlib $prec, malloc default, LibTorch's allocator" "$bin" step --backend libtorch "${common[@]}" --clock "$clock"
    run "variant: ftlib $prec, malloc retain, LibTorch's allocator" "$bin" step --backend libtorch "${common[@]}" --clock "$clock" --malloc retain
    run "variant: ftlib $prec, malloc default, caching allocator" "$bin" step --backend libtorch "${common[@]}" --clock "$clock" --cpu-allocator caching
    run "variant: ftlib $prec (as the tool: malloc retain, caching allocator)" "$bin" step --backend libtorch "${common[@]}" --clock "$clock" --malloc retain --cpu-allocator caching
  done
fi
if wants epoch; then
  # One training epoch over train.csv, batch 8: ftlib padded and unpadded (and unpadded with length
  # grouping) against transformers with DataCollatorWithPadding on the same batches, and with its
  # LengthGroupedSampler; the fully packed 8x128 step gives the rate an unpadded epoch is held to.
  # A full epoch is ~53 batches of 3-5 s per configuration here: 12 batches spread over it are timed and the
  # rest extrapolated by the work each side does (padded tokens; real tokens for ftlib unpadded).
  dyn_sample=12; fixed_sample=6; epoch_models=(distilbert albert)
  [[ $quick -eq 1 ]] && { dyn_sample=6; fixed_sample=3; epoch_models=(distilbert); }
  for prec in "${precisions[@]}"; do
    for m in "${epoch_models[@]}"; do
      ep=(epoch --backend libtorch --model "$m" --threads "$threads" --clock "$clock" --shared "$shared" --malloc retain --cpu-allocator caching)
      [[ "$prec" == bf16 ]] && ep+=(--bf16)
      batches="$build/epoch-batches-$m.json"
      run "epoch $m $prec ftlib padded" "$bin" "${ep[@]}" --execution padded --sample-batches "$dyn_sample" --batches-out "$batches"
      run "epoch $m $prec ftlib unpadded" "$bin" "${ep[@]}" --execution unpadded --sample-batches "$dyn_sample"
      run "epoch $m $prec ftlib unpadded, group_by_length" "$bin" "${ep[@]}" --execution unpadded --group-by-length --sample-batches "$dyn_sample"
      run "epoch $m $prec hf dynamic" "$python" "$root/benchmarks/hf_epoch.py" --model "$m" --shared "$shared" --batches "$batches" --threads "$threads" --precision "$prec" --sample-batches "$dyn_sample"
      run "epoch $m $prec hf group_by_length" "$python" "$root/benchmarks/hf_epoch.py" --model "$m" --shared "$shared" --group-by-length --threads "$threads" --precision "$prec" --sample-batches "$dyn_sample"
      packed=(step --backend libtorch --model "$m" --batch 8 --seq 128 --full-rows --execution unpadded --threads "$threads" --clock "$clock" --malloc retain --cpu-allocator caching --warmup "$warmup" --iters "$iters")
      [[ "$prec" == bf16 ]] && packed+=(--bf16)
      run "packed $m $prec" "$bin" "${packed[@]}"
    done
  done
  run "epoch distilbert fp32 ftlib padded, fixed 512" "$bin" epoch --backend libtorch --padding fixed --max-length 512 --execution padded --sample-batches "$fixed_sample" --threads "$threads" --clock "$clock" --shared "$shared" --malloc retain --cpu-allocator caching
fi
if wants evaluate; then
  # One evaluation pass over test.csv (batch 8), as Trainer.evaluate runs it: ftlib (sorted by length,
  # unpadded; and in the file's order, padded, like for like) against transformers' loop.
  eval_models=(distilbert albert)
  [[ $quick -eq 1 ]] && eval_models=(distilbert)
  for prec in "${precisions[@]}"; do
    for m in "${eval_models[@]}"; do
      ev=(evaluate --backend libtorch --model "$m" --threads "$threads" --clock "$clock" --shared "$shared")
      [[ "$prec" == bf16 ]] && ev+=(--bf16)
      run "evaluate $m $prec ftlib" "$bin" "${ev[@]}"
      run "evaluate $m $prec ftlib padded, input order" "$bin" "${ev[@]}" --execution padded --order input
      run "evaluate $m $prec hf" "$python" "$root/benchmarks/hf_evaluate.py" --model "$m" --shared "$shared" --threads "$threads" --precision "$prec"
    done
  done
fi
echo "# done $(date -u +%FT%TZ); $(uptime)"

# The summary needs only a JSON parser; the peer's interpreter has one.
"$python" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    if "failed" in r:
        print(f"FAILED: {r['failed']}: {r['error']}")
gemm = next((r for r in rows if r.get("impl") == "gemm"), None)
steps = [r for r in rows if r.get("sec_per_step_median") is not None and not r.get("label", "").startswith("variant:")]
variants = [r for r in rows if r.get("sec_per_step_median") is not None and r.get("label", "").startswith("variant:")]
def find(impl, model, b, t, bf16, skip=0):
    m = [r for r in steps if r["impl"] == impl and r["model"] == model and r["batch"] == b and r["seq"] == t and r["bf16"] == bf16]
    return m[skip] if len(m) > skip else None
# The machine's SGEMM rate: the faster of LibTorch's BLAS and oneDNN's sgemm (both in this process).
sgemm = max(gemm.get("torch_sgemm_gflops_best", 0), gemm.get("onednn_sgemm_gflops_best", 0)) if gemm else None
bgemm = gemm.get("torch_bf16_gemm_gflops_best") if gemm else None
if gemm:
    print(f"GEMM 2048^3, {gemm['threads']} threads: torch fp32 {gemm['torch_sgemm_gflops_best']:.0f} GFLOP/s"
          + (f", oneDNN fp32 {gemm['onednn_sgemm_gflops_best']:.0f} GFLOP/s" if 'onednn_sgemm_gflops_best' in gemm else "")
          + f", torch bf16 {bgemm:.0f} GFLOP/s"
          + (f", Eigen fp32 {gemm['eigen_sgemm_gflops_best']:.0f} GFLOP/s" if 'eigen_sgemm_gflops_best' in gemm else "")
          + f"; 'of GEMM peak' below divides by {sgemm:.0f} (fp32) and {bgemm:.0f} (bf16)")
print()
def s_of(r):
    return f"{r['sec_per_step_median']:.3f}" if r else "failed"
def ratio(a, b):
    return f"{a['sec_per_step_median'] / b['sec_per_step_median']:.2f}x" if a and b else "-"
def hf_prec(bf16):
    return "bf16" if bf16 else "fp32"
hf_steps = [r for r in rows if r.get("impl", "").startswith("hf ") and r.get("sec_per_step_median") is not None
            and not r.get("label", "").startswith("variant:")]
def find_hf(impl, model, b, t, bf16):
    m = [r for r in hf_steps if r["impl"] == impl and r["model"] == model and r["batch"] == b and r["seq"] == t and r["bf16"] == bf16]
    return m[0] if m else None
if hf_steps:
    print(f"peer: {hf_steps[0]['versions']}, attention {hf_steps[0]['attention']}")
if steps:
    print("| model | B x T | prec | HF eager s/step | HF compile s/step | ftlib s/step | vs HF eager | vs HF compile | ftlib 1.13 s/step | ftlib GFLOP/s | of GEMM peak | fwd+bwd / AdamW s | peak RSS HF eager / compile / ftlib MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
seen = []
for r in steps:
    if r["impl"] != "ftlib libtorch" or not r.get("label", "").startswith("ftlib libtorch "): continue
    key = (r["model"], r["batch"], r["seq"], r["bf16"])
    if key in seen: continue
    seen.append(key)
    eager, comp = find_hf("hf eager", *key), find_hf("hf compile", *key)
    by_label = lambda side: next((x for x in steps if x.get("label") == f"{side} {key[0]} {key[1]} x {key[2]} {hf_prec(key[3])}"), None)
    f, old = by_label("ftlib libtorch"), by_label("ftlib libtorch-1.13")
    peak = bgemm if r["bf16"] else sgemm
    frac = f"{f['gflop_per_s'] / peak:.0%}" if peak else "-"
    rss = " / ".join(f"{x['peak_rss_mib']:.0f}" if x else "-" for x in (eager, comp, f))
    print(f"| {key[0]} | {key[1]}x{key[2]} | {hf_prec(key[3])} | {s_of(eager)} | {s_of(comp) if comp else '-'} | {s_of(f)} | "
          f"{ratio(eager, f)} | {ratio(comp, f)} | {s_of(old)} | {f['gflop_per_s']:.0f} | {frac} | "
          f"{f['forward_backward_median']:.3f} / {f['optimizer_median']:.3f} | {rss} |")
print()
for model, b, t, _ in [k for k in seen if not k[3]]:
    f32, b16 = find("ftlib libtorch", model, b, t, False), find("ftlib libtorch", model, b, t, True)
    p32, p16 = find_hf("hf eager", model, b, t, False), find_hf("hf eager", model, b, t, True)
    print(f"bf16 autocast speed-up over fp32, {model} {b}x{t}: ftlib {ratio(f32, b16)}, HF eager {ratio(p32, p16)}")
eig = [r for r in steps if r["impl"] == "ftlib eigen"]
if eig:
    print()
    print("| Eigen vs LibTorch fp32, distilbert | LibTorch s/step | Eigen s/step | Eigen speed / LibTorch | peak RSS LibTorch / Eigen MiB |")
    print("|---|---|---|---|---|")
    for e in eig:
        pairs = [r for r in steps if r["impl"] == "ftlib libtorch" and r["model"] == e["model"] and r["batch"] == e["batch"]
                 and r["seq"] == e["seq"] and not r["bf16"]]
        lt = pairs[-1] if pairs else None  # the run right before it (same phase of the machine)
        if lt:
            print(f"| {e['batch']}x{e['seq']} | {lt['sec_per_step_median']:.3f} | {e['sec_per_step_median']:.3f} | "
                  f"{lt['sec_per_step_median'] / e['sec_per_step_median']:.2f}x | {lt['peak_rss_mib']:.0f} / {e['peak_rss_mib']:.0f} |")
if variants:
    print()
    print(f"| distilbert {variants[0]['batch']}x{variants[0]['seq']} (variants) | s/step | vs PyTorch as configured | peak RSS MiB |")
    print("|---|---|---|---|")
    for r in variants:
        label = r["label"][len("variant: "):]
        prec = "bf16" if r["bf16"] else "fp32"
        base = next((x for x in variants if x["label"] == f"variant: python {prec}"), None)
        gain = f"{base['sec_per_step_median'] / r['sec_per_step_median']:.2f}x" if base else "-"
        print(f"| {label} | {r['sec_per_step_median']:.3f} | {gain} | {r['peak_rss_mib']:.0f} |")
ep = [r for r in rows if r.get("mode") == "epoch"]
if ep:
    print()
    print("| epoch (train.csv, batch 8) | batches timed | real tokens | computed tokens | epoch s | real tok/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in ep:
        timed = f"{r['timed_batches']}/{r['batches']}" + (" (extrapolated)" if r["extrapolated"] else "")
        print(f"| {r['label'][len('epoch '):]} | {timed} | {r['real_tokens']} | {r.get('computed_tokens', r['padded_tokens'])} | "
              f"{r['epoch_s']:.1f} | {r['real_tokens_per_s']:.0f} | {r['peak_rss_mib']:.0f} |")
    print()
    def label(l):
        return next((r for r in rows if r.get("label") == l and "epoch_s" in r), None)
    for m in ("distilbert", "albert"):
        for prec in ("fp32", "bf16"):
            un = label(f"epoch {m} {prec} ftlib unpadded")
            if un is None:
                continue
            pad, hf, packed = label(f"epoch {m} {prec} ftlib padded"), label(f"epoch {m} {prec} hf dynamic"), \
                next((r for r in rows if r.get("label") == f"packed {m} {prec}" and "tokens_per_s" in r), None)
            parts = [f"{m} {prec}: unpadded epoch {un['epoch_s']:.1f} s"]
            if packed:
                bound = un["real_tokens"] / packed["tokens_per_s"]
                parts.append(f"{un['epoch_s'] / bound:.2f}x the packed-rate bound ({bound:.1f} s; target <= 1.15x)")
            if pad:
                parts.append(f"{pad['epoch_s'] / un['epoch_s']:.2f}x faster than padded (target >= 1.6x)")
            if hf:
                parts.append(f"{hf['epoch_s'] / un['epoch_s']:.2f}x faster than HF eager, dynamic padding (target >= 2x)")
            print("; ".join(parts))
ev = [r for r in rows if r.get("mode") == "evaluate" and "eval_s" in r]
if ev:
    print()
    print("| evaluate (test.csv, batch 8) | order | execution | computed tokens | s | rows/s | vs HF | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in ev:
        hf = next((x for x in ev if x["impl"] == "hf eager" and x["model"] == r["model"] and x["bf16"] == r["bf16"]), None)
        computed = r["real_tokens"] if r["execution"] == "unpadded" else r["padded_tokens"]
        vs = f"{hf['eval_s'] / r['eval_s']:.2f}x" if hf else "-"
        print(f"| {r['label'][len('evaluate '):]} | {r['order']} | {r['execution']} | {computed} | {r['eval_s']:.2f} | "
              f"{r['rows_per_s']:.1f} | {vs} | {r['peak_rss_mib']:.0f} |")
PY
