"""The peer of benchmarks/ddp_allreduce.cpp: PyTorch's own all-reduce of distilbert-base's 66,955,010
float32 gradients over Gloo, as DistributedDataParallel issues it (flattened into buckets of
bucket_cap_mb, all started, then waited for, averaged), under torchrun:

    torchrun --nproc-per-node 2 benchmarks/torch_allreduce.py [--floats F] [--repeats R]

Rank 0 prints one line per bucket size in ddp_allreduce's format.
"""
import argparse
import statistics
import time

import torch
import torch.distributed as dist

parser = argparse.ArgumentParser()
parser.add_argument("--floats", type=int, default=66955010)
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
sizes = [768 * 768, 768 * 3072, 3072 * 768, 768]
grads, left, i = [], args.floats, 0
while left > 0:
    n = min(left, sizes[i % 4])
    grads.append(torch.rand(n))
    left -= n
    i += 1
nbytes = args.floats * 4
if rank == 0:
    print(f"torch_allreduce: {world} processes, {args.floats} float32 gradients ({nbytes / 1e6:.3g} MB) over Gloo (torch "
          f"{torch.__version__}), threads {torch.get_num_threads()}, median of {args.repeats}")
for mib in (1, 25, 100, 1 << 20):
    cap = mib * 1024 * 1024
    buckets, current, size = [], [], 0
    for g in grads:
        if current and size + g.numel() * 4 > cap:
            buckets.append(current)
            current, size = [], 0
        current.append(g)
        size += g.numel() * 4
    buckets.append(current)
    times = []
    for r in range(args.repeats + 1):
        dist.barrier()
        t0 = time.perf_counter()
        works = []
        flats = []
        for b in buckets:
            flat = torch.cat([g.reshape(-1) for g in b])
            flats.append(flat)
            works.append(dist.all_reduce(flat, async_op=True))
        for b, flat, w in zip(buckets, flats, works):
            w.wait()
            flat.div_(world)
            offset = 0
            for g in b:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()
        t1 = time.perf_counter()
        if r > 0:
            times.append((t1 - t0) * 1e3)
    median = statistics.median(times)
    if rank == 0:
        label = "all (one bucket)" if mib >= (1 << 20) else f"{mib} MiB"
        print(f"  buckets of {label}: {median:.1f} ms per all-reduce, {nbytes / (median / 1e3) / 1e9:.2f} GB/s")
dist.destroy_process_group()
