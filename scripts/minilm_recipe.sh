# The fine-tuning recipe of all-MiniLM-L6-v2 on the review data, sourced by scripts/compare_hf.sh (both
# sides) and scripts/demo.sh, so that the demo runs exactly what docs/benchmarks.md compares. Why these
# values: scripts/compare_hf.sh's header.
# shellcheck shell=bash disable=SC2034  # the variables are read by the scripts that source this file
lr=1e-4 epochs=5 batch=8 eval_steps=27 patience=3 max_length=128
