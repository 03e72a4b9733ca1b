#!/usr/bin/env bash
# The real fine-tune, side by side: the pretrained all-MiniLM-L6-v2 (an uncased 6-layer BERT,
# scripts/fetch_minilm.sh) fine-tuned on the 5-class review data (../shared/data/amazon_reviews_5class)
# with `ftlib train` and with HuggingFace transformers' Trainer (benchmarks/hf_finetune.py), the same
# recipe on the same files, over several seeds. Prints one table: test accuracy, macro-F1 and
# training time of each run, and the mean and spread of each side.
#
#   scripts/compare_hf.sh [--seeds "42 43 44"] [--backend libtorch|eigen] [--build DIR] [--threads N]
#
# The recipe (shared by both sides): AdamW lr 1e-4, linear decay, no warmup, no weight decay, clipping at
# 1, batch 8, at most 5 epochs, evaluation on validation.csv every 27 steps (half an epoch of the 423
# training rows), stop after 3 evaluations without a better validation loss, restore the best weights,
# then score test.csv. Rows truncated to 128 tokens. Why not the notebook's lr 5e-5 / 3 epochs / stop at
# the first non-improvement: with this small (6-layer, 384-wide) model and 423 rows its validation loss
# sits on a plateau for the first epoch, so patience 1 stopped 4 of 6 runs at step 54 at chance level on
# both sides (docs/benchmarks.md, "The real fine-tune", keeps that run too).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
data="$shared/data/amazon_reviews_5class"
seeds="42 43 44"
backend=libtorch
build="$root/build"
threads="${OMP_NUM_THREADS:-$(nproc)}"
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "compare_hf: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$data/train.csv" ] || { echo "compare_hf: $data/train.csv not found (../shared beside the checkout, or FTLIB_SHARED_DIR)" >&2; exit 1; }

model=$("$root/scripts/fetch_minilm.sh")
venv=$("$root/scripts/python_env.sh")
"$root/scripts/install-deps.sh"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target ftlib_tool -j"$(nproc)" >/dev/null
ftlib="$build/examples/ftlib"
work="$build/compare_hf"
mkdir -p "$work"
export OMP_NUM_THREADS="$threads"

# shellcheck source=minilm_recipe.sh
source "$root/scripts/minilm_recipe.sh"
for seed in $seeds; do
  echo "compare_hf: seed $seed: ftlib ($backend)" >&2
  rm -rf "$work/ftlib-$seed"
  start=$(date +%s.%N)
  "$ftlib" train --backend "$backend" --threads "$threads" --model "$model" \
    --train "$data/train.csv" --validation "$data/validation.csv" --test "$data/test.csv" \
    --text-column review_body --label-column stars --label-offset 1 \
    --learning-rate "$lr" --num-train-epochs "$epochs" --per-device-train-batch-size "$batch" \
    --eval-steps "$eval_steps" --early-stopping-patience "$patience" --max-length "$max_length" \
    --logging-steps "$eval_steps" --save-total-limit 2 --seed "$seed" --disable-tqdm \
    --output "$work/ftlib-$seed" >"$work/ftlib-$seed.log" 2>&1
  end=$(date +%s.%N)
  echo "$start $end" >"$work/ftlib-$seed.wall"
  echo "compare_hf: seed $seed: transformers" >&2
  rm -rf "$work/hf-$seed"
  "$venv/bin/python" "$root/benchmarks/hf_finetune.py" --model "$model" --data "$data" --seed "$seed" \
    --learning-rate "$lr" --epochs "$epochs" --batch-size "$batch" --eval-steps "$eval_steps" --patience "$patience" \
    --max-length "$max_length" --threads "$threads" --work "$work/hf-$seed" --output "$work/hf-$seed.json" \
    >"$work/hf-$seed.log" 2>&1
done

"$venv/bin/python" - "$work" "$seeds" "$backend" "$threads" <<'PY'
import json, statistics, sys
work, seeds, backend, threads = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4]
rows = {"ftlib": [], "transformers": []}
for seed in seeds:
    m = json.load(open(f"{work}/ftlib-{seed}/metrics.json"))
    rows["ftlib"].append((seed, m["test"]["accuracy"], m["test"]["f1_macro"], m["train"]["train_runtime"], m["train"]["global_step"]))
    h = json.load(open(f"{work}/hf-{seed}.json"))
    rows["transformers"].append((seed, h["test_accuracy"], h["test_f1_macro"], h["train_seconds"], h["global_step"]))
print(f"| side | seed | test accuracy | test macro-F1 | training s | steps |")
print("|---|---|---|---|---|---|")
for side, runs in rows.items():
    name = f"ftlib ({backend})" if side == "ftlib" else "transformers"
    for seed, acc, f1, secs, steps in runs:
        print(f"| {name} | {seed} | {acc:.4f} | {f1:.4f} | {secs:.1f} | {steps} |")
for side, runs in rows.items():
    accs, f1s, secs = [r[1] for r in runs], [r[2] for r in runs], [r[3] for r in runs]
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"| **{side} mean ± sd** | | {statistics.mean(accs):.4f} ± {sd(accs):.4f} | {statistics.mean(f1s):.4f} ± {sd(f1s):.4f} "
          f"| {statistics.mean(secs):.1f} | |")
fa = [r[1] for r in rows["ftlib"]]; ha = [r[1] for r in rows["transformers"]]
lo, hi = min(ha), max(ha)
verdict = "within" if lo <= statistics.mean(fa) <= hi else "outside"
print(f"\nftlib's mean test accuracy {statistics.mean(fa):.4f} is {verdict} transformers' seed-to-seed range "
      f"[{lo:.4f}, {hi:.4f}] (chance: 0.2; {threads} threads)")
PY
