#!/usr/bin/env bash
# Data-parallel costs on this machine (docs/benchmarks.md, "Data parallel"), measured in one run:
#  1. one gradient all-reduce of distilbert-base's 66,955,010 float32 gradients over Gloo on loopback,
#     2 processes: ftlib's DataParallel (benchmarks/ddp_allreduce.cpp) next to PyTorch's own
#     (benchmarks/torch_allreduce.py under torchrun, as DDP buckets it), per bucket size;
#  2. the step-time overhead of data parallelism where the cores bound the scaling: `ftlib train` on a
#     distilbert-base-sized model (random init, 128 tokens, the review data) as 1 process x 2 threads x
#     batch 16 against 2 processes x 1 thread x batch 8 (the same global batch and rows).
#
#   benchmarks/ddp_bench.sh BUILD_DIR [STEPS]     (BUILD_DIR: a build with the tool and ddp_allreduce)
#
# Needs ../shared (or FTLIB_SHARED_DIR) for the vocabulary and the data, and scripts/python_env.sh's venv
# for the peer. Run it on an otherwise idle machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: ddp_bench.sh BUILD_DIR [STEPS]}" && pwd)
steps=${2:-12}
shared="${FTLIB_SHARED_DIR:-$root/../shared}"
venv=$("$root/scripts/python_env.sh")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "# $(date -u +%FT%TZ) $(uptime)"
echo "== 1. one gradient all-reduce (2 processes, Gloo, loopback)"
OMP_NUM_THREADS=1 "$build/benchmarks/ddp_allreduce" --nproc 2
OMP_NUM_THREADS=1 "$venv/bin/torchrun" --nproc-per-node 2 --master-port 29561 "$root/benchmarks/torch_allreduce.py" 2>&1 | grep -v "^W[0-9]"

echo "== 2. a training step: 1 process x 2 threads x batch 16 vs 2 processes x 1 thread x batch 8 ($steps steps)"
mkdir -p "$work/model"
cp "$shared/vocab/bert-base-uncased/vocab.txt" "$work/model/"
cat > "$work/model/config.json" <<'JSON'
{"model_type": "distilbert", "architectures": ["DistilBertForSequenceClassification"], "vocab_size": 30522, "dim": 768,
 "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "max_position_embeddings": 512, "dropout": 0.1,
 "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "activation": "gelu", "initializer_range": 0.02,
 "pad_token_id": 0, "do_lower_case": true}
JSON
data="$shared/data/amazon_reviews_5class/train.csv"
args=(train --backend libtorch --model "$work/model" --train "$data" --text-column review_body --label-column stars
      --label-offset 1 --max-steps "$steps" --max-length 128 --logging-steps 1000 --disable-tqdm --report-to none --seed 1)
"$build/examples/ftlib" "${args[@]}" --threads 2 --per-device-train-batch-size 16 --output "$work/one" > "$work/one.log" 2>&1 ||
  { cat "$work/one.log"; exit 1; }
OMP_NUM_THREADS=1 "$build/examples/ftlib" "${args[@]}" --threads 1 --per-device-train-batch-size 8 --nproc-per-node 2 \
  --output "$work/two" > "$work/two.log" 2>&1 || { cat "$work/two.log"; exit 1; }
rate() { grep -o '"train_samples_per_second": *[0-9.eE+-]*' "$1/metrics.json" | sed 's/.*: *//'; }
one=$(rate "$work/one")
two=$(rate "$work/two")
echo "1 process x 2 threads x batch 16:  $one rows/s"
echo "2 processes x 1 thread x batch 8:  $two rows/s"
awk -v a="$one" -v b="$two" 'BEGIN { printf "data-parallel / single-process rate: %.3f (overhead %.1f%%)\n", b / a, (a / b - 1) * 100 }'
echo "# done $(date -u +%FT%TZ) $(uptime)"
