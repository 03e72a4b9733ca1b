"""TensorBoard's own reader on the event files of `ftlib train` (tests/reports/check_run_reports.sh).

    check_tensorboard.py RUN_A RUN_B

RUN_A is an uninterrupted run, RUN_B the same run killed after its step-3 checkpoint and resumed.
For each: TensorBoard's EventAccumulator finds the scalars transformers' TensorBoardCallback would
write (train/loss, train/learning_rate, train/grad_norm, train/epoch, eval/loss, eval/accuracy, ...)
with the steps and values of train_log.jsonl. For RUN_B every step appears once (the resumed event
file purges what the killed run logged after its checkpoint) and the values equal RUN_A's.
"""

import glob
import json
import math
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def tag_of(key):
    # transformers.integrations.integration_utils.rewrite_logs
    if key.startswith("eval_"):
        return "eval/" + key[len("eval_"):]
    if key.startswith("test_"):
        return "test/" + key[len("test_"):]
    return "train/" + key


def expected_scalars(run):
    """tag -> [(step, value), ...] from train_log.jsonl, in file order (an evaluation logs "epoch" at
    the step of a training record too, so a step may carry a tag twice: TensorBoard keeps both)."""
    want = {}
    with open(os.path.join(run, "train_log.jsonl"), encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            step = record["step"]
            for key, value in record.items():
                if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                want.setdefault(tag_of(key), []).append((step, float(value)))
    return want


def read_scalars(run):
    dirs = glob.glob(os.path.join(run, "runs", "*"))
    if len(dirs) != 1:
        sys.exit(f"FAILED: expected one TensorBoard run directory under {run}/runs, found {dirs}")
    acc = EventAccumulator(dirs[0], size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def check_run(run):
    want, got = expected_scalars(run), read_scalars(run)
    if set(want) != set(got):
        sys.exit(f"FAILED: {run}: tags in TensorBoard {sorted(got)} but in train_log.jsonl {sorted(want)}")
    for tag in ("train/loss", "train/learning_rate", "train/grad_norm", "eval/loss", "eval/accuracy", "eval/f1_macro"):
        if tag not in got:
            sys.exit(f"FAILED: {run}: no {tag} scalar")
    for tag, values in want.items():
        # Each logged value once, at its step: a resumed run's orphaned steps must be gone.
        if [s for s, _ in got[tag]] != [s for s, _ in values]:
            sys.exit(f"FAILED: {run}: {tag} at steps {[s for s, _ in got[tag]]}, train_log.jsonl has {[s for s, _ in values]}")
        for (step, seen), (_, value) in zip(got[tag], values):
            # TensorBoard keeps simple_value as float32.
            if not math.isclose(seen, value, rel_tol=1e-6, abs_tol=1e-12):
                sys.exit(f"FAILED: {run}: {tag} at step {step} is {seen} in TensorBoard, {value} in the log")
    return got


a = check_run(sys.argv[1])
b = check_run(sys.argv[2])
for tag, values in a.items():
    if "runtime" in tag or "per_second" in tag:
        continue
    if values != b.get(tag):
        sys.exit(f"FAILED: {tag}: the resumed run shows {b.get(tag)}, the uninterrupted one {values}")
print(f"TensorBoard reader: {len(a)} scalar tags, {len(a['train/loss'])} training steps; resumed run identical: OK")
