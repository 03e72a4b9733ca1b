#!/usr/bin/env bash
# ftlib on an NVIDIA GPU, in one command and under 8 minutes on a 16-core machine with PyTorch and no
# network: builds the LibTorch backend's parity tests and the step benchmark against that machine's
# torch (its LibTorch: `torch.utils.cmake_prefix_path`), runs the parity tests on CUDA, then the training
# step of ftlib and of HuggingFace transformers (eager attention) on the same card, and prints one table.
#
#   scripts/gpu_check.sh [--build-only] [--python PY] [--build DIR] [--jobs N] [--quick]
#   scripts/gpu_check.sh --pack [DIR]     (here, with network) what the GPU machine may lack, to carry
#
#   --build-only  configure and build only (works without a GPU: checks the CUDA build links)
#   --python PY   the Python whose torch to build against (default: python3 if its torch has CUDA,
#                 else the venv of scripts/python_env.sh if it exists)
#   --build DIR   build directory (default build-gpu)
#   --quick       the benchmark at one shape (distilbert 32 x 128) instead of four
#   --pack DIR    copies into DIR (default build-gpu-carry, ignored by git) the C++ dependencies that a
#                 machine with only PyTorch, CMake and nvcc lacks (nlohmann-json, doctest, utf8proc, curl
#                 headers) and ../shared/fixtures/models, the parity tests' fixtures. A later run finds
#                 DIR (or $FTLIB_GPU_CARRY) by itself; carry it there with the checkout.
#
# What runs on the GPU:
#   1. tests/test_libtorch_models with FTLIB_TEST_DEVICE=cuda: every fixture case of ../shared/fixtures/models
#      (logits, loss, hidden states, every gradient, 3 AdamW steps; explicit and SDPA attention) on CUDA
#      with the CPU's float32 tolerances (TF32 stays off, LibTorch's default for matmul): outputs 1e-5
#      (2e-5 at dim 768), F32 gradients 1e-5 + 1e-4 |g|, step-3 weights 1e-5 (4e-3 at noise gradients);
#      bf16 autocast: logits and loss within 5e-2 of the float32 fixture; fp16 autocast with the model's
#      GradScaler: loss within 5e-2, every gradient within 1e-3 + 5e-2 |g|. The binary's CPU-only cases
#      (allocator, dropout, resume) run too.
#   2. benchmarks/train_step --device cuda against benchmarks/hf_train_step.py, fp32, bf16 and fp16 (loss
#      scaling on both sides), each configuration in its own process, median of 20 steps after 5.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS
mode=run
python=""
build="$root/build-gpu"
jobs=$(nproc)
quick=0
pack_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-only) mode=build ;;
    --python) python="$2"; shift ;;
    --build) build="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --quick) quick=1 ;;
    --pack) mode=pack; if [[ $# -gt 1 && "$2" != --* ]]; then pack_dir="$2"; shift; fi ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "gpu_check: $*"; }
carry="${FTLIB_GPU_CARRY:-$root/build-gpu-carry}"

if [[ $mode == pack ]]; then
  dest="${pack_dir:-$carry}"
  shared="${FTLIB_SHARED_DIR:-$root/../shared}"
  rm -rf "$dest"
  mkdir -p "$dest/prefix/include" "$dest/prefix/lib/cmake" "$dest/prefix/share/cmake" "$dest/shared/fixtures"
  cp -r /usr/include/nlohmann "$dest/prefix/include/"
  cp -r /usr/share/cmake/nlohmann_json "$dest/prefix/share/cmake/"
  cp -r /usr/include/doctest "$dest/prefix/include/"
  cp -r /usr/lib/cmake/doctest "$dest/prefix/lib/cmake/"
  # Debian's doctest config names /usr; make it relative to where it lies.
  sed -i 's|set(_IMPORT_PREFIX "/usr")|get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)|' \
    "$dest/prefix/lib/cmake/doctest/doctestTargets.cmake"
  cp /usr/include/utf8proc.h "$dest/prefix/include/"
  cp -P /usr/lib/x86_64-linux-gnu/libutf8proc.so* "$dest/prefix/lib/"
  cp -r "/usr/include/$(gcc -print-multiarch)/curl" "$dest/prefix/include/"
  cp -r "$shared/fixtures/models" "$dest/shared/fixtures/"
  say "packed $(du -sh "$dest" | cut -f1) into $dest (C++ dependencies and the model fixtures)"
  exit 0
fi

# --- which torch ---------------------------------------------------------------------------------
if [[ -z "$python" ]]; then
  if command -v python3 >/dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    python=python3
  elif venv=$("$root/scripts/python_env.sh" --check 2>/dev/null); then
    python="$venv/bin/python"
  else
    say "no Python with a CUDA torch (python3, or scripts/python_env.sh's venv); give --python" >&2
    exit 1
  fi
fi
read -r torch_version torch_cuda gpu_count torch_cmake < <("$python" -c '
import torch
print(torch.__version__, torch.version.cuda, torch.cuda.device_count() if torch.cuda.is_available() else 0,
      torch.utils.cmake_prefix_path)')
gpu_name=none
[[ $gpu_count -gt 0 ]] && gpu_name=$("$python" -c 'import torch; print(torch.cuda.get_device_name(0))')
say "torch $torch_version (CUDA $torch_cuda) from $python; LibTorch $torch_cmake/Torch; GPU: $gpu_name"
if [[ $mode == run && $gpu_count -eq 0 ]]; then
  say "no CUDA device: nothing to run on (use --build-only to check the build)" >&2
  exit 1
fi

# --- dependencies: the machine's, or the carried ones ----------------------------------------------
cmake_args=()
prefix_path="$torch_cmake"
if [[ -d "$carry/prefix" ]]; then
  say "using the carried dependencies in $carry/prefix"
  prefix_path="$carry/prefix;$prefix_path"
  if ! compgen -G '/usr/include/curl/curl.h' >/dev/null && ! compgen -G '/usr/include/*/curl/curl.h' >/dev/null; then
    # Headers from the carry, the library from the machine (curl's own dependencies are the machine's).
    curl_lib=$( (ldconfig -p 2>/dev/null || true) | awk '/libcurl\.so\.4 .*x86-64/ && !found {print $NF; found = 1}')
    [[ -n "$curl_lib" ]] || { say "no libcurl.so.4 on this machine (ftlib's hub download links it)" >&2; exit 1; }
    cmake_args+=(-DCURL_INCLUDE_DIR="$carry/prefix/include" -DCURL_LIBRARY="$curl_lib")
  fi
fi
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
[[ -d "$shared/fixtures/models" ]] || shared="$carry/shared"
[[ -d "$shared/fixtures/models" ]] || { say "no model fixtures (../shared or a carried $carry/shared)" >&2; [[ $mode == build ]] || exit 1; }

# --- build -----------------------------------------------------------------------------------------
# Only what runs: the LibTorch backend (no Eigen backend, no tool), its test and the step benchmark.
say "building test_libtorch_models and train_step in $build ($jobs jobs)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_cmake/Torch" \
  -DCMAKE_PREFIX_PATH="$prefix_path" -DFTLIB_WITH_EIGEN=OFF -DFTLIB_BUILD_EXAMPLES=OFF \
  -DFTLIB_BUILD_TESTS=ON -DFTLIB_BUILD_BENCHMARKS=ON -DFTLIB_SHARED_DIR="$shared" "${cmake_args[@]}" >"$build/gpu-check-configure.log" 2>&1 \
  || { tail -n 30 "$build/gpu-check-configure.log"; say "configure failed (log: $build/gpu-check-configure.log)" >&2; exit 1; }
grep '^-- ftlib:' "$build/gpu-check-configure.log" || true
cmake --build "$build" --target test_libtorch_models train_step --parallel "$jobs"
for bin in "$build/tests/test_libtorch_models" "$build/benchmarks/train_step"; do
  libs=$(ldd "$bin" | awk '/libtorch_cuda|libcudart|libc10_cuda/ {print $1 " -> " $3}' | tr '\n' ' ')
  say "$(basename "$bin") links: $libs"
  ldd "$bin" | grep -q 'libtorch_cuda' || { say "$(basename "$bin") does not load libtorch_cuda.so" >&2; exit 1; }
done
say "build done after $((SECONDS - start)) s"
if [[ $mode == build ]]; then
  say "BUILD ONLY: built against torch $torch_version (CUDA $torch_cuda); no test or benchmark was run"
  exit 0
fi

# --- parity tests on CUDA --------------------------------------------------------------------------
out="$build/gpu-check"
mkdir -p "$out"
say "running test_libtorch_models with FTLIB_TEST_DEVICE=cuda (log: $out/tests.log)"
test_rc=0
FTLIB_TEST_DEVICE=cuda FTLIB_SHARED_DIR="$shared" "$build/tests/test_libtorch_models" >"$out/tests.log" 2>&1 || test_rc=$?
grep -E 'MESSAGE: .*(\[|cuda|bf16|SKIPPED)' "$out/tests.log" | sed 's/.*MESSAGE: /  /' | sort -u || true
grep -E '^\[doctest\] (test cases|assertions)' "$out/tests.log" | sed 's/^/  /'
[[ $test_rc -eq 0 ]] || { grep -E 'ERROR|FAILED' "$out/tests.log" | head -n 20; say "parity tests FAILED on CUDA (exit $test_rc)"; }

# --- step benchmark: ftlib next to HF eager ------------------------------------------------------------
if [[ $quick -eq 1 ]]; then
  shapes=("distilbert 32 128")
else
  shapes=("distilbert 32 128" "distilbert 8 512" "albert 32 128" "albert 8 512")
fi
results="$out/bench.jsonl"
: >"$results"
for shape in "${shapes[@]}"; do
  read -r model b t <<<"$shape"
  for prec in fp32 bf16 fp16; do
    flag=(); [[ $prec != fp32 ]] && flag=(--"$prec")
    say "step: $model $b x $t $prec"
    if line=$("$python" "$root/benchmarks/hf_train_step.py" --model "$model" --batch "$b" --seq "$t" --precision "$prec" \
        --attention eager --device cuda --warmup 5 --iters 20 2>"$out/last.err" | tail -n 1) && [[ $line == "{"* ]]; then
      echo "{\"side\": \"hf\", ${line:1}" >>"$results"
    else
      echo "{\"side\": \"hf\", \"failed\": true, \"model\": \"$model\", \"batch\": $b, \"seq\": $t, \"precision\": \"$prec\"}" >>"$results"
      tail -n 3 "$out/last.err"
    fi
    if line=$("$build/benchmarks/train_step" step --backend libtorch --device cuda --model "$model" --batch "$b" \
        --seq "$t" --warmup 5 --iters 20 --threads "$jobs" "${flag[@]}" 2>"$out/last.err" | tail -n 1) && [[ $line == "{"* ]]; then
      echo "{\"side\": \"ftlib\", \"precision\": \"$prec\", ${line:1}" >>"$results"
    else
      echo "{\"side\": \"ftlib\", \"failed\": true, \"model\": \"$model\", \"batch\": $b, \"seq\": $t, \"precision\": \"$prec\"}" >>"$results"
      tail -n 3 "$out/last.err"
    fi
  done
done

"$python" - "$results" "$gpu_name" "$torch_version" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = lambda r: (r["model"], r["batch"], r["seq"], r["precision"])
table = {}
for r in rows:
    table.setdefault(key(r), {})[r["side"]] = r
print(f"\nTraining step on {sys.argv[2]} (torch {sys.argv[3]}): median seconds per step of 20 after 5 warm-up steps,")
print("ftlib (benchmarks/train_step, LibTorch) next to HF transformers eager (benchmarks/hf_train_step.py); fp16 with loss scaling")
print(f"{'model':<11}{'shape':>9}{'prec':>6}{'HF s/step':>12}{'ftlib s/step':>14}{'HF / ftlib':>12}{'HF peak MiB':>13}")
for k in sorted(table, key=lambda k: (k[0], k[1] * k[2], k[1], ["fp32", "bf16", "fp16"].index(k[3]))):
    hf, ft = table[k].get("hf", {}), table[k].get("ftlib", {})
    hs, fs = hf.get("sec_per_step_median"), ft.get("sec_per_step_median")
    cell = lambda v, f: format(v, f) if v is not None else "failed"
    ratio = f"{hs / fs:.2f}x" if hs and fs else "-"
    print(f"{k[0]:<11}{f'{k[1]}x{k[2]}':>9}{k[3]:>6}{cell(hs, '12.4f')}{cell(fs, '14.4f')}{ratio:>12}"
          f"{cell(hf.get('peak_device_mib'), '13.0f')}")
PY
say "ran: build, parity tests on CUDA (exit $test_rc), ${#shapes[@]} shapes x fp32/bf16/fp16 on both sides; $((SECONDS - start)) s in all"
say "results: $out/tests.log, $results"
exit $test_rc
