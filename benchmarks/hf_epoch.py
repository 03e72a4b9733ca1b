#!/usr/bin/env python3
"""The HuggingFace peer of `train_step epoch`: one training epoch over amazon_reviews_5class/train.csv with
transformers' own model and collator, as a notebook runs it. Used by scripts/bench.sh --only epoch.

    python benchmarks/hf_epoch.py --model distilbert|albert --shared DIR [--batches FILE | --group-by-length]
        [--precision fp32|bf16] [--threads N] [--max-length 512] [--batch 8]

The model is hf_train_step.py's (base size, random weights, train mode, AdamW lr 1e-5 with weight decay
0.01, linear schedule, autocast for bf16). The texts are tokenized by transformers' fast tokenizer from
../shared/vocab (bert-base-uncased's tokenizer.json for DistilBERT, albert-base-v2's for ALBERT), truncated
to --max-length, and every batch is padded to its longest row by DataCollatorWithPadding. --batches FILE
takes the rows of each batch from ftlib's run (`train_step epoch --batches-out FILE`), so both sides compute
the same batches; --group-by-length uses transformers' own LengthGroupedSampler (seed 42) instead, as
Trainer(group_by_length=True) does. --sample-batches K times K batches spread over the epoch, as train_step
does. Prints one JSON line with the epoch time and the tokens computed.
"""
from __future__ import annotations

import argparse
import csv
import json
import pathlib
import resource
import time

import torch
import transformers
from transformers.trainer_pt_utils import LengthGroupedSampler

from hf_train_step import config


def review_tokenizer(model: str, shared: pathlib.Path) -> transformers.PreTrainedTokenizerFast:
    """transformers' fast tokenizer of the model's vocabulary in ../shared/vocab."""
    vocab = "bert-base-uncased" if model == "distilbert" else "albert-base-v2"
    return transformers.PreTrainedTokenizerFast(tokenizer_file=str(shared / "vocab" / vocab / "tokenizer.json"),
                                                pad_token="[PAD]" if model == "distilbert" else "<pad>")


def read_reviews(shared: pathlib.Path, file: str) -> list[dict[str, str]]:
    """The rows of a split of amazon_reviews_5class."""
    with open(shared / "data" / "amazon_reviews_5class" / file, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def review_features(tokenizer, rows: list[dict[str, str]], model: str, max_length: int) -> list[dict]:
    """Each review tokenized and truncated, with its label (stars 1..5 as 0..4); DistilBERT takes no token types."""
    features = [dict(tokenizer(r["review_body"], truncation=True, max_length=max_length), labels=int(r["stars"]) - 1)
                for r in rows]
    if model == "distilbert":
        for f in features:
            f.pop("token_type_ids", None)
    return features


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["distilbert", "albert"], required=True)
    ap.add_argument("--shared", required=True, type=pathlib.Path)
    ap.add_argument("--batches", type=pathlib.Path, help="JSON list of row lists (ftlib's epoch)")
    ap.add_argument("--group-by-length", action="store_true")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--sample-batches", type=int, default=0,
                    help="time K batches spread evenly over the epoch (train_step's rule) and extrapolate by padded tokens")
    args = ap.parse_args()
    if (args.batches is None) != args.group_by_length:  # exactly one of the two
        raise SystemExit("hf_epoch.py: give --batches FILE or --group-by-length")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    tokenizer = review_tokenizer(args.model, args.shared)
    rows = read_reviews(args.shared, "train.csv")
    t_tok = time.perf_counter()
    features = review_features(tokenizer, rows, args.model, args.max_length)
    tokenize_s = time.perf_counter() - t_tok
    if args.batches is not None:
        batches = json.loads(args.batches.read_text())
    else:
        sampler = LengthGroupedSampler(args.batch, lengths=[len(f["input_ids"]) for f in features],
                                       generator=torch.Generator().manual_seed(42))
        order = list(sampler)
        batches = [order[i:i + args.batch] for i in range(0, len(order), args.batch)]
    collator = transformers.DataCollatorWithPadding(tokenizer)

    torch.manual_seed(0)
    cfg = config(args.model, "default")
    model = transformers.AutoModelForSequenceClassification.from_config(cfg)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=1000)
    dtype = torch.bfloat16 if args.precision == "bf16" else None

    def step(batch: dict[str, torch.Tensor]) -> float:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        return loss.item()

    # Collated before the clock starts, as ftlib's side makes its batches before timing.
    collated = [collator([features[i] for i in rows_of_batch]) for rows_of_batch in batches]
    real = sum(int(b["attention_mask"].sum()) for b in collated)
    padded = sum(b["input_ids"].numel() for b in collated)
    nb = len(collated)
    k = nb if args.sample_batches <= 0 else min(nb, args.sample_batches)
    picked = [i * nb // k for i in range(k)]
    step(collated[picked[0]])  # warm-up, untimed (ftlib's run warms up on its first picked batch too)
    t0 = time.perf_counter()
    for i in picked:
        step(collated[i])
    timed_s = time.perf_counter() - t0
    # HF computes every padded position: the epoch scales with the padded tokens (exact when k == nb).
    epoch_s = timed_s * padded / sum(collated[i]["input_ids"].numel() for i in picked)
    print(json.dumps({
        "impl": "hf eager", "mode": "epoch",
        "versions": f"transformers {transformers.__version__}, torch {torch.__version__}",
        "attention": model.config._attn_implementation, "model": args.model,
        "padding": "group_by_length" if args.group_by_length else "dynamic", "execution": "padded",
        "bf16": args.precision == "bf16", "threads": torch.get_num_threads(), "rows": len(features),
        "batches": nb, "timed_batches": k, "extrapolated": k < nb, "tokenize_s": tokenize_s,
        "real_tokens": real, "padded_tokens": padded, "computed_tokens": padded, "epoch_s": epoch_s,
        "real_tokens_per_s": real / epoch_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
