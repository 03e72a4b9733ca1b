#!/usr/bin/env python3
"""The HuggingFace peer of benchmarks/train_step: the same training step with transformers' own models,
as a notebook runs it. Used by scripts/bench.sh (CPU) and scripts/gpu_check.sh (CUDA).

    python benchmarks/hf_train_step.py --model distilbert|albert --batch B --seq T
        [--precision fp32|bf16|fp16] [--device cpu|cuda] [--threads N] [--attention default|eager|sdpa]
        [--compile] [--warmup 2] [--iters 5]

transformers' DistilBertForSequenceClassification / AlbertForSequenceClassification at base size with
random weights (from_config; attention as transformers picks it unless --attention says otherwise), in
train mode: forward under torch.autocast (bf16, or fp16 with torch.amp.GradScaler), backward,
torch.optim.AdamW (lr 1e-5, weight decay 0.01 on every parameter), get_linear_schedule_with_warmup over
1000 steps, PyTorch's default allocator. --compile wraps the model in torch.compile (the strongest
variant; its compilation happens in the warm-up steps). The batch is train_step's: row 0 full, the other
rows of random length in [T/4, T]. Prints one JSON line: median seconds per step (the device synchronised
at the end of each), tokens/s, the process's peak RSS and the peak device memory.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch
import transformers

NUM_LABELS = 5


def config(model: str, attention: str) -> transformers.PretrainedConfig:
    common = {"id2label": {i: f"LABEL_{i}" for i in range(NUM_LABELS)},
              "label2id": {f"LABEL_{i}": i for i in range(NUM_LABELS)}}
    if attention != "default":
        common["attn_implementation"] = attention
    if model == "distilbert":  # distilbert-base-uncased
        return transformers.DistilBertConfig(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                                             **common)
    return transformers.AlbertConfig(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12,
                                     num_attention_heads=12, intermediate_size=3072, hidden_act="gelu_new",
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                     classifier_dropout_prob=0.1, **common)


def make_batch(model: str, vocab: int, batch: int, seq: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    lengths = [seq] + torch.randint(max(2, seq // 4), seq + 1, (batch - 1,), generator=g).tolist()
    ids = torch.zeros(batch, seq, dtype=torch.long)
    mask = torch.zeros(batch, seq, dtype=torch.long)
    types = torch.zeros(batch, seq, dtype=torch.long)
    for r, n in enumerate(lengths):
        ids[r, :n] = torch.randint(1000, vocab, (n,), generator=g)
        mask[r, :n] = 1
        types[r, n // 2:n] = 1
    out = {"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, NUM_LABELS, (batch,), generator=g)}
    if model == "albert":
        out["token_type_ids"] = types
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["distilbert", "albert"], required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--attention", choices=["default", "eager", "sdpa"], default="default")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.precision == "fp16" and not cuda:
        raise SystemExit("gpu_check_hf.py: fp16 autocast needs a CUDA device")
    torch.manual_seed(0)
    cfg = config(args.model, args.attention)
    model = transformers.AutoModelForSequenceClassification.from_config(cfg).to(device)
    model.train()
    attention = model.config._attn_implementation
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=1000)
    forward = torch.compile(model) if args.compile else model
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == "fp16")
    host_batch = make_batch(args.model, cfg.vocab_size, args.batch, args.seq)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times, losses = [], []
    for step in range(args.warmup + args.iters):
        sync()
        t0 = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in host_batch.items()}
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = forward(**batch).loss
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        schedule.step()
        losses.append(loss.item())
        sync()
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "impl": "hf compile" if args.compile else "hf eager",
        "versions": f"transformers {transformers.__version__}, torch {torch.__version__}", "attention": attention,
        "model": args.model, "batch": args.batch, "seq": args.seq, "precision": args.precision,
        "bf16": args.precision == "bf16", "device": str(device), "threads": torch.get_num_threads(),
        "sec_per_step_median": med, "sec_per_step_all": times, "tokens_per_s": args.batch * args.seq / med,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "peak_device_mib": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
        "first_losses": losses[:3],
    }))


if __name__ == "__main__":
    main()
