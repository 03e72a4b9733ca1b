#!/usr/bin/env bash
# The catalogue of bad inputs: every malformed file or flag a user can give the `ftlib` tool, with
# the exit code and the message fragment it must produce. Nothing may crash (exit >= 128), report
# an internal error (exit 2), hang (timeout) or allocate more than the input justifies (every case
# runs under a virtual-memory limit). One line per case below; the files are made here from the
# committed tiny model and data (tests/data/trainer), so no case needs Python or ../shared.
#
#   tests/catalogue/bad_inputs.sh FTLIB_TOOL WORK_DIR
#
# FTLIB_CATALOGUE_MEMORY_KB: the limit (default 16 GB of address space: the CUDA build of LibTorch
# maps several GB just by loading; a size bomb in a file would ask for terabytes; "unlimited" under
# AddressSanitizer, whose shadow memory alone takes terabytes of address space).
set -u
ftlib=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
data=$root/tests/data/trainer
limit_kb=${FTLIB_CATALOGUE_MEMORY_KB:-16000000}
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1

cases=0
failures=0
# expect NAME EXIT FRAGMENT ARGS...: run `ftlib ARGS...`; its exit code must be EXIT and its output
# (stdout + stderr) must contain FRAGMENT.
expect() {
  local name=$1 want=$2 fragment=$3
  shift 3
  cases=$((cases + 1))
  local out got
  out=$( (ulimit -v "$limit_kb"; timeout 120 "$ftlib" "$@") 2>&1 )
  got=$?
  if [[ $got -ne $want || "$out" != *"$fragment"* ]]; then
    failures=$((failures + 1))
    echo "FAIL $name: exit $got (expected $want); the output must contain: $fragment"
    printf '%s\n' "$out" | tail -n 6 | sed 's/^/       /'
  else
    echo "ok   $name: $(printf '%s\n' "$out" | grep -m1 -E 'error|warning' | cut -c1-160)"
  fi
}

# train_on FILE [FLAGS...]: a one-step training run on FILE (data errors come before any step).
train_on() {
  local file=$1
  shift
  printf '%s\n' train --model "$data/tiny-distilbert" --train "$file" --label-column sentiment --max-steps 1 \
    --max-length 24 --disable-tqdm --output "$work/out-$cases" "$@"
}
# le64 N: N as 8 little-endian bytes (a safetensors header length).
le64() {
  local n=$1 i out=""
  for i in 0 1 2 3 4 5 6 7; do out+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
  printf '%b' "$out"
}
# safetensors FILE HEADER [DATA_BYTES]: a safetensors file with that JSON header and that many zero bytes.
safetensors() {
  { le64 ${#2}; printf '%s' "$2"; head -c "${3:-0}" /dev/zero; } > "$1"
}
# checkpoint NAME: a copy of the trained tiny model to damage.
checkpoint() {
  rm -rf "$1"
  cp -r model "$1"
}
set_field() {  # set_field DIR FIELD VALUE: replace a top-level config.json field's value
  sed -i -E "s/^  \"$2\": [^,]*(,?)$/  \"$2\": $3\1/" "$1/config.json"
}

# --- set-up: a trained tiny model to damage -----------------------------------------------------
if ! "$ftlib" train --model "$data/tiny-distilbert" --train "$data/reviews.csv" --label-column sentiment --max-steps 2 \
  --max-length 24 --disable-tqdm --output model > setup.log 2>&1; then
  cat setup.log
  echo "catalogue: could not train the tiny model the cases start from"
  exit 1
fi
good=$data/reviews.csv
# The limit must leave room for a good run, or every case would fail for the wrong reason.
if ! (ulimit -v "$limit_kb"; "$ftlib" predict --model model --input "$data/reviews.csv" > /dev/null 2> calibration.log); then
  cat calibration.log
  echo "catalogue: a good predict run fails under the memory limit of $limit_kb kB (FTLIB_CATALOGUE_MEMORY_KB)"
  exit 1
fi
printf 'text\n"fine"\n' > texts.csv

# --- CSV / TSV ------------------------------------------------------------------------------------
printf 'text,sentiment\n"unterminated,positive\n' > unterminated.csv
expect csv_unterminated_quote 1 'unterminated.csv:2:1: unterminated quoted field' $(train_on unterminated.csv)
printf 'text,sentiment\na,positive,extra\n' > fields.csv
expect csv_wrong_field_count 1 'fields.csv:2' $(train_on fields.csv)
printf 'text,sentiment\na\0b,positive\n' > nul.csv
expect csv_nul_byte 1 'nul.csv:2:2: a NUL byte' $(train_on nul.csv)
printf 'text,sentiment\ncaf\xe9,positive\n' > latin1.csv
expect csv_invalid_utf8 1 'latin1.csv:2:4' $(train_on latin1.csv)
: > empty.csv
expect csv_empty 1 'empty.csv: the file is empty' $(train_on empty.csv)
printf 'text,sentiment\n' > header_only.csv
expect csv_header_only 1 'no data rows after the header' $(train_on header_only.csv)
printf 'body,sentiment\na,positive\n' > no_text.csv
expect csv_missing_column 1 "no_text.csv:1: missing column 'text' (text_column)" $(train_on no_text.csv)
printf 'text,sentiment,text\na,positive,b\n' > dup.csv
expect csv_duplicate_column 1 "dup.csv:1: column 'text' (text_column) appears twice" $(train_on dup.csv)
printf 'text,sentiment\na,1\nb,x\n' > label_word.csv
expect csv_label_not_integer 1 "label_word.csv:3:3: label 'x'" $(train_on label_word.csv --label-offset 1)
printf 'text,sentiment\na,1\nb,99999999999999999999\n' > label_huge.csv
expect csv_label_overflows_int64 1 "label_huge.csv:3:3: label '99999999999999999999'" $(train_on label_huge.csv --label-offset 0)
printf 'text,sentiment\na,0\nb,1\nc,100000\n' > label_sparse.csv
expect csv_one_large_label 1 'label 100000 in column' $(train_on label_sparse.csv --label-offset 0)
printf 'text,sentiment\na,0\nb,-9223372036854775808\n' > label_min.csv
expect csv_label_offset_overflow 1 'is out of range' $(train_on label_min.csv --label-offset 1)
{ printf 'text,sentiment\n"'; head -c 50000000 /dev/zero | tr '\0' 'a'; printf '",positive\nb,negative\n'; } > big_field.csv
expect csv_50mb_field_trains 0 'trained 1 steps' $(train_on big_field.csv)

# --- JSONL ----------------------------------------------------------------------------------------
printf '{"text": "a", "sentiment": "positive"}\n{"text": "b", \n' > broken.jsonl
expect jsonl_invalid_json 1 'broken.jsonl:2:' $(train_on broken.jsonl)
printf '[1, 2]\n' > array.jsonl
expect jsonl_not_an_object 1 'array.jsonl:1: expected a JSON object' $(train_on array.jsonl)
printf '{"text": "a", "sentiment": "positive", "x": 1e400}\n' > overflow.jsonl
expect jsonl_number_overflow 1 'overflow.jsonl:1:45: invalid JSON: the number 1e400' $(train_on overflow.jsonl)
{ printf '{"text": "a", "sentiment": "positive", "x": '; head -c 100000 /dev/zero | tr '\0' '['; printf '\n'; } > deep.jsonl
expect jsonl_deep_nesting 1 'JSON nested deeper than 256 levels' $(train_on deep.jsonl)
printf '{"text": "a", "sentiment": "positive", "text": "b"}\n' > dupkey.jsonl
expect jsonl_duplicate_key 1 'the key "text" appears twice' $(train_on dupkey.jsonl)
printf '{"text": "a"}\n' > nolabel.jsonl
expect jsonl_missing_label 1 "missing key 'sentiment'" $(train_on nolabel.jsonl)
printf '{"text": "a", "sentiment": 1e300}\n' > floatlabel.jsonl
expect jsonl_label_1e300 1 'is not an integer' $(train_on floatlabel.jsonl)

# --- config.json ----------------------------------------------------------------------------------
config_case() {  # config_case NAME FRAGMENT FIELD VALUE
  checkpoint "cfg-$1"
  set_field "cfg-$1" "$3" "$4"
  expect "config_$1" 1 "$2" predict --model "cfg-$1" --input texts.csv
}
config_case wrong_type "field 'dim': expected an integer" dim '"sixteen"'
config_case zero_size "field 'n_layers': must be a positive integer, got 0" n_layers 0
config_case negative_size "field 'hidden_dim': must be a positive integer, got -4" hidden_dim -4
config_case absurd_vocab "the config describes a model of about 120 GiB of float32 weights (vocab_size 2000000000" vocab_size 2000000000
config_case vocab_1e12 "field 'vocab_size': 1000000000000 is larger than any model's" vocab_size 1000000000000
config_case vocab_2_62 "field 'vocab_size': 4611686018427387904 is larger than any model's" vocab_size 4611686018427387904
config_case vocab_2_64 "field 'vocab_size': expected an integer, got 18446744073709551615 (too large)" vocab_size 18446744073709551615
config_case heads_do_not_divide "field 'dim': 16 is not a multiple of 'n_heads' (3)" n_heads 3
config_case unknown_model_type "roberta" model_type '"roberta"'
config_case number_overflow "the number 1e400 is out of the range of a double" initializer_range 1e400
config_case dropout_out_of_range "field 'dropout': must be a probability in [0, 1)" dropout 1.5
checkpoint cfg-deep
{ printf '{"model_type": "distilbert", "x": '; head -c 100000 /dev/zero | tr '\0' '['; } > cfg-deep/config.json
expect config_deep_nesting 1 'config.json:1:' predict --model cfg-deep --input texts.csv
checkpoint cfg-notjson
printf '{"model_type": "distilbert",' > cfg-notjson/config.json
expect config_not_json 1 'config.json:1:' predict --model cfg-notjson --input texts.csv
checkpoint cfg-missing
rm cfg-missing/config.json
expect config_missing 1 'config.json' predict --model cfg-missing --input texts.csv
checkpoint cfg-labels
sed -i 's/"id2label": {/"id2label": {"9999999999": "x", /' cfg-labels/config.json
expect config_label_id_too_large 1 "field 'id2label'" predict --model cfg-labels --input texts.csv

# --- model.safetensors ----------------------------------------------------------------------------
weights_case() {  # weights_case NAME FRAGMENT COMMAND...: COMMAND writes wt-NAME/model.safetensors
  local name=$1 fragment=$2
  shift 2
  checkpoint "wt-$name"
  "$@" "wt-$name/model.safetensors"
  expect "safetensors_$name" 1 "$fragment" predict --model "wt-$name" --input texts.csv
}
empty_file() { : > "$1"; }
four_bytes() { printf 'abcd' > "$1"; }
length_past_end() { { le64 4096; printf '{}'; } > "$1"; }
not_json() { safetensors "$1" 'hello'; }
no_tensors() { safetensors "$1" '{}'; }
out_of_range() { safetensors "$1" '{"classifier.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,999999]}}' 8; }
overlapping() {
  safetensors "$1" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
}
size_mismatch() { safetensors "$1" '{"classifier.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}' 8; }
bad_dtype() { safetensors "$1" '{"classifier.bias":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}' 8; }
truncated() { head -c 300 model/model.safetensors > "$1"; }
deep_shape() { safetensors "$1" "{\"a\":{\"dtype\":\"F32\",\"shape\":$(head -c 100000 /dev/zero | tr '\0' '['),\"data_offsets\":[0,0]}}"; }
weights_case empty 'shorter than the 8-byte header length' empty_file
weights_case four_bytes 'shorter than the 8-byte header length' four_bytes
weights_case header_past_end 'header length 4096 runs past the end of the file' length_past_end
weights_case header_not_json 'header is not valid JSON' not_json
weights_case no_tensors "of the classifier's tensors are not in this checkpoint" no_tensors
weights_case offsets_out_of_range 'classifier.bias' out_of_range
weights_case overlapping_offsets 'overlap' overlapping
weights_case dtype_size_mismatch 'classifier.bias' size_mismatch
weights_case unknown_dtype 'F99' bad_dtype
weights_case truncated 'model.safetensors' truncated
weights_case deep_shape 'JSON nested deeper than 256 levels' deep_shape
checkpoint wt-shape
sed -i 's/"dim": 16/"dim": 32/; s/"hidden_dim": 32/"hidden_dim": 64/' wt-shape/config.json
expect safetensors_shape_vs_config 1 'the model expects' predict --model wt-shape --input texts.csv
# NaN in the first weight of the file: refused unless asked for, then reported.
checkpoint wt-nan
header_len=$(od -An -tu8 -N8 wt-nan/model.safetensors | tr -d ' ')
printf '\x00\x00\xc0\x7f' | dd of=wt-nan/model.safetensors bs=1 seek=$((8 + header_len)) conv=notrunc status=none
expect safetensors_nan_weights_refused 1 'tensors hold NaN or infinite values' predict --model wt-nan --input texts.csv
expect safetensors_nan_weights_evaluate 1 'tensors hold NaN or infinite values' evaluate --model wt-nan --data "$good" --label-column sentiment
expect safetensors_nan_weights_allowed 0 'warning:' predict --model wt-nan --input texts.csv --allow-nonfinite-weights
expect all_steps_nonfinite 1 'every one of the 1 optimizer steps had a non-finite loss' \
  train --model wt-nan --train "$good" --label-column sentiment --max-steps 1 --disable-tqdm --output "$work/out-nan" \
  --allow-nonfinite-weights --skip-nonfinite-steps

# --- tokenizer files ------------------------------------------------------------------------------
checkpoint tok-empty
: > tok-empty/vocab.txt
expect vocab_empty 1 'vocab.txt' predict --model tok-empty --input texts.csv
checkpoint tok-config
printf '{"model_max_length": 1e400}' > tok-config/tokenizer_config.json
expect tokenizer_config_number_overflow 1 'tokenizer_config.json:1:22: invalid JSON: the number 1e400' predict --model tok-config --input texts.csv
checkpoint tok-config-json
printf '{"do_lower_case": ' > tok-config-json/tokenizer_config.json
expect tokenizer_config_not_json 1 'tokenizer_config.json:1:' predict --model tok-config-json --input texts.csv

# --- flags ----------------------------------------------------------------------------------------
expect flag_learning_rate_negative 1 '--learning-rate: must be a finite number >= 0' $(train_on "$good" --learning-rate -1)
expect flag_batch_size_zero 1 '--per-device-train-batch-size: must be >= 1' $(train_on "$good" --per-device-train-batch-size 0)
expect flag_max_length_one 1 '--max-length: must be >= 2' train --model "$data/tiny-distilbert" --train "$good" --label-column sentiment --output "$work/out-ml" --max-length 1
expect flag_warmup_ratio 1 '--warmup-ratio: must be in [0, 1]' $(train_on "$good" --warmup-ratio 2)
expect flag_eval_steps_negative 1 '--eval-steps: must be >= 0' $(train_on "$good" --eval-steps -1)
expect flag_save_total_limit_zero 1 '--save-total-limit: must be >= 1' $(train_on "$good" --save-total-limit 0)
expect flag_dropout 1 '--dropout: must be in [0, 1)' $(train_on "$good" --dropout 1.5)
expect flag_threads_negative 105 '--threads: Value -1 not in range 0 to 4096' predict --model model --input texts.csv --threads -1
expect flag_backend_unknown 105 '--backend' predict --model model --input texts.csv --backend tpu
expect flag_scheduler_unknown 1 "--lr-scheduler-type: unknown learning-rate scheduler 'sawtooth'" $(train_on "$good" --lr-scheduler-type sawtooth)
expect flag_fp16_on_cpu 1 '--fp16: float16 autocast needs a CUDA device' $(train_on "$good" --fp16)
cp texts.csv self.csv
expect predict_output_is_input 1 '--output: ' predict --model model --input self.csv --output self.csv
[[ -s self.csv ]] || { failures=$((failures + 1)); echo "FAIL predict_output_is_input: the input was truncated"; }
printf '{"text": "a"}\n' > self.jsonl
expect tokenize_output_is_input 1 'is also an input' tokenize --tokenizer model -o self.jsonl self.jsonl
[[ -s self.jsonl ]] || { failures=$((failures + 1)); echo "FAIL tokenize_output_is_input: the input was truncated"; }
expect evaluate_output_is_directory 1 'is a directory' evaluate --model model --data "$good" --label-column sentiment --output model
: > a_file
expect train_output_is_a_file 1 '--output: ' train --model "$data/tiny-distilbert" --train "$good" --label-column sentiment --max-steps 1 --output a_file
expect resume_missing_checkpoint 1 '--resume-from-checkpoint: ' $(train_on "$good" --resume-from-checkpoint nowhere)

# --- runs and checkpoints -------------------------------------------------------------------------
run=(train --model "$data/tiny-distilbert" --train "$good" --validation "$good" --label-column sentiment --max-length 24
     --disable-tqdm --logging-steps 1)
expect run_first 0 'trained 6 steps' "${run[@]}" --max-steps 6 --eval-steps 3 --output runs
expect rerun_into_old_output 1 'holds checkpoints of an earlier run' "${run[@]}" --max-steps 4 --eval-steps 2 --output runs
expect rerun_overwrite 0 'trained 4 steps' "${run[@]}" --max-steps 4 --eval-steps 2 --output runs --overwrite-output-dir
[[ ! -d runs/checkpoint-6 && -d runs/checkpoint-4 ]] || { failures=$((failures + 1)); echo "FAIL rerun_overwrite: checkpoint-6 of the old run is still there"; }
expect resume_changed_learning_rate 1 'learning_rate is 0.001 in this run but 5e-05' \
  "${run[@]}" --max-steps 4 --eval-steps 2 --output runs --resume-from-checkpoint runs/checkpoint-2 --learning-rate 1e-3
expect resume_last 0 'resuming from the newest checkpoint in runs' "${run[@]}" --max-steps 4 --eval-steps 2 --output runs --resume-from-checkpoint
# A checkpoint copied without its best sibling (here: its best step made 2, which is not copied).
mkdir -p lone && cp -r runs/checkpoint-4 lone/
sed -i -E 's/"best_step": [0-9]+/"best_step": 2/' lone/checkpoint-4/trainer_state.json
expect resume_without_best_checkpoint 1 'the best model of this run (step 2) is not on disk' \
  "${run[@]}" --max-steps 4 --eval-steps 2 --output lone --resume-from-checkpoint lone/checkpoint-4
# --eval-steps 10 --save-steps 3: the best step is checkpointed all the same, so resume finds it.
expect best_step_off_the_save_grid 0 'trained 12 steps' "${run[@]}" --max-steps 12 --eval-steps 4 --save-steps 3 --output grid
for f in grid/checkpoint-*/trainer_state.json; do
  b=$(sed -n -E 's/.*"best_step": ([0-9]+).*/\1/p' "$f")
  [[ -z "$b" || -d grid/checkpoint-$b ]] || { failures=$((failures + 1)); echo "FAIL best_step_off_the_save_grid: $f names best step $b, not on disk"; }
done

echo "catalogue: $cases cases, $failures failed"
[[ $failures -eq 0 ]]
