#!/usr/bin/env bash
# Interoperability with HuggingFace transformers, both ways (tests/interop/check_interop.py says what is
# checked). Run by ctest; exits 77 (ctest: skipped) with a SKIPPED line when the project's Python
# environment (scripts/python_env.sh) is not installed.
#   run_interop.sh FTLIB_TOOL WORK_DIR [SHARED_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ftlib="$1"
work="$2"
shared="${3:-${FTLIB_SHARED_DIR:-$root/../shared}}"
if ! venv=$("$root/scripts/python_env.sh" --check); then
  echo "SKIPPED: the Python environment with transformers is not installed (run scripts/python_env.sh)"
  exit 77
fi
py="$venv/bin/python"
data="$root/tests/data/trainer"
rm -rf "$work"
mkdir -p "$work"
"$py" -c "import csv, json, sys
with open('$data/reviews.csv', newline='') as f, open('$work/texts.jsonl', 'w') as out:
    for r in csv.DictReader(f): out.write(json.dumps({'text': r['text']}) + '\n')"

train() {  # train ARCH_DIR OUT [extra flags]
  local model="$1" out="$2"
  shift 2
  "$ftlib" train --model "$model" --train "$data/reviews.csv" --validation "$data/reviews.csv" --label-column sentiment \
    --max-steps 4 --eval-steps 2 --learning-rate 1e-3 --max-length 24 --per-device-train-batch-size 8 --disable-tqdm \
    --output "$out" "$@" > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
}

# ftlib -> transformers: DistilBERT, BERT (tiny, tests/data/trainer) and ALBERT (needs ../shared's spiece.model).
cases=("distilbert:$data/tiny-distilbert:" "bert:$data/tiny-bert:")
if [ -f "$shared/vocab/albert-base-v2/spiece.model" ]; then
  cases+=("albert:$root/examples/demo/tiny-albert:$shared/vocab/albert-base-v2/spiece.model")
else
  echo "SKIPPED (ALBERT part): $shared/vocab/albert-base-v2/spiece.model not found"
fi
for c in "${cases[@]}"; do
  IFS=: read -r name model tokenizer <<< "$c"
  extra=()
  [ -n "$tokenizer" ] && extra=(--tokenizer "$tokenizer")
  train "$model" "$work/ftlib-$name" "${extra[@]}"
  "$ftlib" predict --model "$work/ftlib-$name" --input "$data/reviews.csv" --max-length 24 --output "$work/ftlib-$name.pred.jsonl"
  "$ftlib" tokenize --tokenizer "$work/ftlib-$name" --max-length 24 --output "$work/ftlib-$name.tok.jsonl" "$work/texts.jsonl"
  "$py" "$here/check_interop.py" check-ftlib-model "$work/ftlib-$name" "$work/texts.jsonl" "$work/ftlib-$name.pred.jsonl" \
    "$work/ftlib-$name.tok.jsonl" 24
done

# ftlib -> transformers for the other problem types (tiny BERT): regression on a number derived from
# each review (its word count / 4) and multi-label on its sentiment plus "long" (more than 6 words).
"$py" -c "import csv
with open('$data/reviews.csv', newline='') as f, open('$work/regression.csv', 'w', newline='') as r, open('$work/multi.csv', 'w', newline='') as m:
    rw, mw = csv.writer(r), csv.writer(m)
    rw.writerow(['text', 'score']); mw.writerow(['text', 'labels'])
    for row in csv.DictReader(f):
        words = len(row['text'].split())
        rw.writerow([row['text'], words / 4]); mw.writerow([row['text'], row['sentiment'] + (';long' if words > 6 else '')])"
for c in "regression:regression.csv:score" "multi_label_classification:multi.csv:labels"; do
  IFS=: read -r problem file column <<< "$c"
  out="$work/ftlib-bert-$problem"
  "$ftlib" train --model "$data/tiny-bert" --problem-type "$problem" --train "$work/$file" --label-column "$column" \
    --max-steps 4 --learning-rate 1e-3 --max-length 24 --per-device-train-batch-size 8 --disable-tqdm --report-to none \
    --output "$out" > "$out.log" 2>&1 || { cat "$out.log"; exit 1; }
  "$ftlib" predict --model "$out" --input "$work/$file" --max-length 24 --output "$out.pred.jsonl"
  "$ftlib" evaluate --model "$out" --data "$work/$file" --label-column "$column" --max-length 24 --output "$out.eval.json" > /dev/null
  "$py" "$here/check_interop.py" check-problem-type "$out" "$work/$file" "$column" "$out.pred.jsonl" "$out.eval.json" 24 "$problem"
done

# transformers -> ftlib: a classifier transformers trained and saved, as model.safetensors and as pytorch_model.bin.
for name in distilbert bert; do
  "$py" "$here/check_interop.py" write-hf-model "$work/ftlib-$name" "$data/reviews.csv" "$work/hf-$name" "$work/hf-$name-bin" 5
  for dir in "$work/hf-$name" "$work/hf-$name-bin"; do
    "$ftlib" evaluate --model "$dir" --data "$data/reviews.csv" --label-column sentiment --max-length 24 --output "$dir.eval.json" > /dev/null
    "$ftlib" predict --model "$dir" --input "$data/reviews.csv" --max-length 24 --output "$dir.pred.jsonl"
    "$py" "$here/check_interop.py" compare "$dir" "$work/texts.jsonl" "$dir.pred.jsonl" 24
  done
done
echo "interop ok"
