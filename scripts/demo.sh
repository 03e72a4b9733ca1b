#!/usr/bin/env bash
# ftlib's main job in one command: build the tool, fine-tune a classifier on the 5-class Amazon
# review data, evaluate it on the test split and predict a few new texts.
#
# THIS IS A TINY FROM-SCRATCH DEMO: a 2-layer, 64-wide DistilBERT (examples/demo/tiny-distilbert,
# random initialisation, no pretrained weights) trained for well under a minute on 2 CPU cores (libtorch; the eigen backend is slower). Expect
# accuracy a little above chance. The real run is the same command with ONE flag changed:
#
#     --model examples/demo/tiny-distilbert   ->   --model distilbert-base-uncased
#
# (downloaded once into the HuggingFace cache, or found there; see docs/user_guide.md).
#
# Environment: FTLIB_SHARED_DIR (default ../shared beside the repository), FTLIB_DEMO_OUT (default
# build/demo), FTLIB_DEMO_BACKEND (libtorch when built, else eigen), JOBS (build parallelism, 2).
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

cat <<'NOTE'

=====================================================================================
 ftlib demo: a TINY DistilBERT trained FROM SCRATCH (2 layers, dim 64, random init).
 It shows the whole workflow in about a minute; it is not a useful classifier.
 For the real fine-tuning run change one flag:
     --model examples/demo/tiny-distilbert   ->   --model distilbert-base-uncased
=====================================================================================

NOTE

rm -rf "$out"
mkdir -p "$out"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
set -x
"$ftlib" train "${backend[@]}" \
  --model "$root/examples/demo/tiny-distilbert" --tokenizer "$vocab" \
  --train "$data/train.csv" --validation "$data/validation.csv" --test "$data/test.csv" \
  --text-column review_body --label-column stars --label-offset 1 \
  --learning-rate 1e-3 --num-train-epochs 20 --per-device-train-batch-size 16 --warmup-ratio 0.1 \
  --eval-steps 54 --early-stopping-patience 3 --logging-steps 27 --max-length 128 \
  --dataloader-num-threads 2 --output "$out/model"

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
echo "demo: this was a tiny from-scratch model; for the real run use --model distilbert-base-uncased."
