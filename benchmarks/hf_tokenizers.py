"""HuggingFace `tokenizers` (Rust, from PyPI) on the texts tokenizer_throughput reads: the review_body
column of shared/data/amazon_reviews_5class/{train,validation,test}.csv. The peer side of
scripts/bench_tokenizers.sh; see docs/benchmarks.md.

    python benchmarks/hf_tokenizers.py [--shared DIR] [--seconds S] [--mode encode|batch|both]
        [--load-repeats K] [--ids-dir DIR] [--tokenizers bert-base-uncased,albert-base-v2]

    --mode          encode: Tokenizer.encode() one text at a time; batch: Tokenizer.encode_batch(all texts)
                    and Tokenizer.encode_batch_fast(all texts, no offsets) per pass; both (default)
    --load-repeats  loads of each tokenizer timed, the fastest reported (default 5)
    --ids-dir DIR   write the ids of every text (from encode_batch) to DIR/hf.<tokenizer>.jsonl

The tokenizer is built the way users get it: Tokenizer.from_file(<vocab dir>/tokenizer.json), which is
also what transformers' fast tokenizers load when the folder has one. encode_batch runs on Rayon:
TOKENIZERS_PARALLELISM=false makes it a plain loop on the calling thread, RAYON_NUM_THREADS=N gives its
pool N threads; both are read from the environment the script sets before starting this process.
Prints one JSON line per measurement, prefixed "JSON ", like tokenizer_throughput --json.
"""

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path


def fail(message):
    print(f"hf_tokenizers.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def read_reviews(folder):
    texts = []
    for split in ("train.csv", "validation.csv", "test.csv"):
        path = folder / split
        if not path.exists():
            continue
        # newline="" lets the csv module see quoted line breaks as they are (RFC 4180).
        with open(path, encoding="utf-8", newline="") as f:
            rows = csv.reader(f, strict=True)
            header = next(rows, None)
            if header is None:
                fail(f"{path}: empty file (expected a header row)")
            if header and header[0].startswith("\ufeff"):
                header[0] = header[0][1:]
            if "review_body" not in header:
                fail(f"{path}:1: no review_body column in the header {header}")
            column = header.index("review_body")
            for row in rows:
                if not row:
                    continue
                if len(row) != len(header):
                    fail(f"{path}:{rows.line_num}: {len(row)} fields, the header has {len(header)}")
                texts.append(row[column])
    return texts


def texts_digest(encoded):
    """FNV-1a 64 over every text's bytes, each followed by 0xFF; tokenizer_throughput prints the same."""
    h = 0xCBF29CE484222325
    for t in encoded:
        for b in t:
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        h = ((h ^ 0xFF) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def measure(nbytes, tokens_per_pass, seconds, cpu_clock, one_pass):
    """Runs one_pass (all texts) until `seconds` have passed, after one untimed warm-up pass."""
    one_pass()
    start = time.perf_counter()
    cpu_start = cpu_clock()
    passes = 0
    elapsed = 0.0
    while elapsed < seconds:
        one_pass()
        passes += 1
        elapsed = time.perf_counter() - start
    cpu = cpu_clock() - cpu_start
    return {
        "mb_s": nbytes * passes / elapsed / 1e6,
        "tokens_s": tokens_per_pass * passes / elapsed,
        "cpu_mb_s": nbytes * passes / cpu / 1e6,
        "threads_busy": cpu / elapsed,
        "seconds": elapsed,
        "passes": passes,
    }


def batch_threads():
    parallel = os.environ.get("TOKENIZERS_PARALLELISM", "").lower()
    if parallel in ("false", "0", "off", "no", "f", "n"):
        return 1
    rayon = int(os.environ.get("RAYON_NUM_THREADS", "0") or 0)
    return rayon if rayon > 0 else os.cpu_count()


def main():
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description="HF tokenizers throughput on the review texts")
    p.add_argument("--shared", type=Path, default=Path(os.environ.get("FTLIB_SHARED_DIR") or here / "../../shared"))
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--mode", choices=("encode", "batch", "both"), default="both")
    p.add_argument("--load-repeats", type=int, default=5)
    p.add_argument("--ids-dir", type=Path)
    p.add_argument("--tokenizers", default="bert-base-uncased,albert-base-v2")
    opt = p.parse_args()
    if not opt.seconds > 0:
        fail(f"--seconds: {opt.seconds} (expected a positive number)")
    if opt.load_repeats < 1:
        fail(f"--load-repeats: {opt.load_repeats} (expected at least 1)")

    import tokenizers  # after the environment is final: Rayon reads it when its pool starts

    folder = opt.shared / "data/amazon_reviews_5class"
    texts = read_reviews(folder)
    if not texts:
        print(f"SKIPPED: no review texts under {folder}")
        return
    encoded = [t.encode("utf-8") for t in texts]
    nbytes = sum(len(b) for b in encoded)
    digest = texts_digest(encoded)
    print(f"hf tokenizers {tokenizers.__version__} (Python {sys.version.split()[0]}): {len(texts)} review texts, "
          f"{nbytes} bytes, digest {digest}")
    if opt.ids_dir:
        opt.ids_dir.mkdir(parents=True, exist_ok=True)

    for name in opt.tokenizers.split(","):
        file = opt.shared / "vocab" / name / "tokenizer.json"
        if not file.exists():
            fail(f"{file}: not found (expected HF's tokenizer.json for {name})")
        loads = []
        for _ in range(opt.load_repeats):
            start = time.perf_counter()
            tokenizer = tokenizers.Tokenizer.from_file(str(file))
            loads.append(time.perf_counter() - start)
        tokenizer.no_truncation()
        tokenizer.no_padding()

        # Reference pass: the ids (for the comparison with ftlib) and the token count of one pass.
        ids = [e.ids for e in tokenizer.encode_batch(texts)]
        tokens_per_pass = sum(len(x) for x in ids)
        if opt.ids_dir:
            with open(opt.ids_dir / f"hf.{name}.jsonl", "w") as out:
                for x in ids:
                    out.write("[" + ",".join(map(str, x)) + "]\n")
        common = {"impl": "hf", "tokenizer": name, "texts": len(texts), "bytes": nbytes, "digest": digest,
                  "tokens_per_pass": tokens_per_pass, "version": tokenizers.__version__}
        print("JSON " + json.dumps({**common, "mode": "load", "threads": 1, "load_s": min(loads),
                                    "first_load_s": loads[0]}))

        if opt.mode != "batch":
            for k, t in enumerate(texts):
                if tokenizer.encode(t).ids != ids[k]:
                    fail(f"{name}: encode() and encode_batch() disagree on text {k + 1}")
            encode = tokenizer.encode

            def encode_each():
                for t in texts:
                    encode(t)

            m = measure(nbytes, tokens_per_pass, opt.seconds, time.thread_time, encode_each)
            # One call without any text: the Python binding's share of the time per text.
            empty = measure(1, 0, min(1.0, opt.seconds), time.thread_time, lambda: [encode("") for _ in texts])
            call_us = 1e6 * empty["seconds"] / (empty["passes"] * len(texts))
            print("JSON " + json.dumps({**common, "mode": "encode", "threads": 1, **m, "empty_call_us": call_us}))
        if opt.mode != "encode":
            batch = tokenizer.encode_batch
            m = measure(nbytes, tokens_per_pass, opt.seconds, time.process_time, lambda: batch(texts))
            print("JSON " + json.dumps({**common, "mode": "encode_batch", "threads": batch_threads(), **m}))
            # encode_batch_fast: the same encodings without character offsets (ftlib computes none either).
            fast = tokenizer.encode_batch_fast
            if [e.ids for e in fast(texts)] != ids:
                fail(f"{name}: encode_batch_fast() and encode_batch() disagree")
            m = measure(nbytes, tokens_per_pass, opt.seconds, time.process_time, lambda: fast(texts))
            print("JSON " + json.dumps({**common, "mode": "encode_batch_fast", "threads": batch_threads(), **m}))


if __name__ == "__main__":
    main()
