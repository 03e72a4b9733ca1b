"""Writes tests/data/distributed/batch_shards.json: how accelerate (what transformers' Trainer uses under
torchrun) shares a training epoch's batches between processes — BatchSamplerShard with even_batches,
as Trainer.get_train_dataloader's accelerator.prepare builds it — for the cases tests/test_trainer.cpp
compares ftlib's shard_batches with. Run with the venv of scripts/python_env.sh:
    "$(scripts/python_env.sh)/bin/python" tests/distributed/generate_batch_shards.py
"""
import json
import pathlib

import accelerate
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler, SequentialSampler

cases = []
for rows in (1, 3, 7, 8, 16, 17, 21, 30):
    for batch_size in (1, 2, 3, 4):
        for world_size in (2, 3, 4):
            batches = list(BatchSampler(SequentialSampler(range(rows)), batch_size, drop_last=False))
            shards = []
            for rank in range(world_size):
                shard = BatchSamplerShard(BatchSampler(SequentialSampler(range(rows)), batch_size, drop_last=False),
                                          num_processes=world_size, process_index=rank, split_batches=False, even_batches=True)
                shards.append([list(b) for b in shard])
            cases.append({"rows": rows, "batch_size": batch_size, "world_size": world_size, "batches": batches, "shards": shards})

out = pathlib.Path(__file__).resolve().parent.parent / "data" / "distributed" / "batch_shards.json"
out.write_text(json.dumps({"generator": f"accelerate {accelerate.__version__} BatchSamplerShard(even_batches=True)",
                           "cases": cases}, separators=(",", ":")) + "\n")
print(f"wrote {out} ({len(cases)} cases)")
