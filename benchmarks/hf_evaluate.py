#!/usr/bin/env python3
"""The HuggingFace peer of `train_step evaluate`: one evaluation pass over amazon_reviews_5class/test.csv
as transformers' Trainer.evaluate runs it (eval mode, torch.no_grad, batches of --batch rows in the file's
order, each padded to its longest row by DataCollatorWithPadding, logits and loss collected, accuracy),
with the base-size model of hf_train_step.py (random weights). Median of --repeats passes after one
untimed pass; tokenization is not timed. Prints one JSON line.

    python benchmarks/hf_evaluate.py --model distilbert|albert --shared DIR [--precision fp32|bf16] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import statistics
import time

import torch
import transformers

from hf_epoch import read_reviews, review_features, review_tokenizer
from hf_train_step import config


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["distilbert", "albert"], required=True)
    ap.add_argument("--shared", required=True, type=pathlib.Path)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    tokenizer = review_tokenizer(args.model, args.shared)
    features = review_features(tokenizer, read_reviews(args.shared, "test.csv"), args.model, 512)
    collator = transformers.DataCollatorWithPadding(tokenizer)
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_config(config(args.model, "default"))
    model.eval()
    dtype = torch.bfloat16 if args.precision == "bf16" else None

    def evaluate() -> float:
        logits, losses = [], []
        with torch.no_grad():
            for i in range(0, len(features), args.batch):
                batch = collator(features[i:i + args.batch])
                with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                    out = model(**batch)
                logits.append(out.logits.float())
                losses.append(out.loss.float() * batch["input_ids"].shape[0])
        labels = torch.tensor([f["labels"] for f in features])
        return float((torch.cat(logits).argmax(-1) == labels).float().mean())

    evaluate()  # warm-up
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        accuracy = evaluate()
        times.append(time.perf_counter() - t0)
    eval_s = statistics.median(times)
    padded = sum(max(len(f["input_ids"]) for f in features[i:i + args.batch]) * len(features[i:i + args.batch])
                 for i in range(0, len(features), args.batch))
    print(json.dumps({
        "impl": "hf eager", "mode": "evaluate", "versions": f"transformers {transformers.__version__}, torch {torch.__version__}",
        "attention": model.config._attn_implementation, "model": args.model, "order": "input", "execution": "padded",
        "bf16": args.precision == "bf16", "threads": torch.get_num_threads(), "rows": len(features), "batch": args.batch,
        "real_tokens": sum(len(f["input_ids"]) for f in features), "padded_tokens": padded, "eval_s": eval_s,
        "rows_per_s": len(features) / eval_s, "accuracy_random_weights": accuracy,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
