"""Interoperability with HuggingFace transformers, both ways (run by tests/interop/run_interop.sh).

ftlib -> transformers: every model directory `ftlib train` wrote loads with
AutoModelForSequenceClassification / AutoTokenizer; transformers' logits on the texts equal
`ftlib predict`'s (<= 1e-5) and its tokenizer gives the ids `ftlib tokenize` gave. A regression and a
multi-label model (trained by `ftlib train --problem-type ...`) load with that problem_type, and
transformers' own loss for it equals `ftlib evaluate`'s.

transformers -> ftlib: a classifier trained a few steps and saved by transformers (save_pretrained:
model.safetensors; and the same weights as pytorch_model.bin, torch.save of the state dict, as
transformers 4 wrote it) -- the script writes it, run_interop.sh has `ftlib evaluate` / `ftlib predict`
score it, and `compare` checks the predictions and logits against transformers'.
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

TOLERANCE = 1e-5


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def hf_logits(model_dir, texts, max_length):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    rows = []
    with torch.no_grad():
        for text in texts:  # one row at a time: no padding, as ftlib's predict gives every row its own logits
            enc = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            rows.append(model(**enc).logits[0].tolist())
    return tokenizer, model, rows


def check_ftlib_model(model_dir, texts_jsonl, predictions_jsonl, tokenized_jsonl, max_length):
    """ftlib -> transformers."""
    texts = [r["text"] for r in read_jsonl(texts_jsonl)]
    tokenizer, model, ours = hf_logits(model_dir, texts, max_length)
    theirs = [r["logits"] for r in read_jsonl(predictions_jsonl)]
    assert len(theirs) == len(texts), f"{predictions_jsonl}: {len(theirs)} rows for {len(texts)} texts"
    worst = max(abs(a - b) for x, y in zip(ours, theirs) for a, b in zip(x, y))
    assert worst <= TOLERANCE, f"{model_dir}: transformers' logits differ from ftlib predict's by {worst}"
    labels = [model.config.id2label[max(range(len(x)), key=x.__getitem__)] for x in ours]
    assert labels == [r["label"] for r in read_jsonl(predictions_jsonl)], f"{model_dir}: predicted labels differ"
    ids = [r["ids"] for r in read_jsonl(tokenized_jsonl)]
    hf_ids = [tokenizer(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]
    assert ids == hf_ids, f"{model_dir}: AutoTokenizer's ids differ from ftlib tokenize's"
    print(f"ok: {model_dir} loads in transformers as {type(model).__name__}; logits max |diff| {worst:.2e} "
          f"over {len(texts)} texts; tokenizer ids identical")


def write_hf_model(base_dir, train_csv, out_dir, bin_dir, steps):
    """A classifier trained `steps` AdamW steps by transformers, saved twice (safetensors, .bin)."""
    import csv
    import shutil

    torch.manual_seed(0)
    with open(train_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = sorted({r["sentiment"] for r in rows})
    label2id = {n: i for i, n in enumerate(names)}
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    config_kwargs = dict(num_labels=len(names), id2label=dict(enumerate(names)), label2id=label2id)
    from transformers import AutoConfig
    config = AutoConfig.from_pretrained(base_dir, **config_kwargs)
    model = AutoModelForSequenceClassification.from_config(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(steps):
        batch = rows[(step * 8) % len(rows):(step * 8) % len(rows) + 8]
        enc = tokenizer([r["text"] for r in batch], truncation=True, max_length=24, padding=True, return_tensors="pt")
        loss = model(**enc, labels=torch.tensor([label2id[r["sentiment"]] for r in batch])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    shutil.copytree(out_dir, bin_dir, dirs_exist_ok=True)
    os.remove(os.path.join(bin_dir, "model.safetensors"))
    torch.save(model.state_dict(), os.path.join(bin_dir, "pytorch_model.bin"))
    print(f"wrote {out_dir} (model.safetensors) and {bin_dir} (pytorch_model.bin), {type(model).__name__}")


def check_problem_type(model_dir, data_csv, label_column, predictions_jsonl, eval_json, max_length, problem_type):
    """ftlib -> transformers for regression / multi-label: the saved config's problem_type, logits equal to
    ftlib predict's, and transformers' own loss (its MSE / BCE-with-logits from problem_type) on the labelled
    rows equal to ftlib evaluate's."""
    import csv

    with open(data_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    tokenizer, model, ours = hf_logits(model_dir, texts, max_length)
    assert model.config.problem_type == problem_type, \
        f"{model_dir}: transformers reads problem_type {model.config.problem_type!r}, expected {problem_type!r}"
    theirs = read_jsonl(predictions_jsonl)
    worst = max(abs(a - b) for x, y in zip(ours, [r["logits"] for r in theirs]) for a, b in zip(x, y))
    assert len(theirs) == len(texts) and worst <= TOLERANCE, f"{model_dir}: logits differ from ftlib predict's by {worst}"
    losses = []
    with torch.no_grad():
        for r in rows:
            enc = tokenizer(r["text"], truncation=True, max_length=max_length, return_tensors="pt")
            if problem_type == "regression":
                labels = torch.tensor([float(r[label_column])])
                assert "value" in theirs[0], "ftlib predict wrote no value for a regression model"
            else:
                names = set(r[label_column].split(";")) - {""}
                labels = torch.tensor([[1.0 if model.config.id2label[i] in names else 0.0 for i in range(model.config.num_labels)]])
            losses.append(model(**enc, labels=labels).loss.item())
    hf_loss = sum(losses) / len(losses)
    with open(eval_json, encoding="utf-8") as f:
        ftlib_loss = json.load(f)["loss"]
    assert abs(hf_loss - ftlib_loss) <= 1e-5 * max(1.0, abs(hf_loss)), \
        f"{model_dir}: transformers' {problem_type} loss {hf_loss} differs from ftlib evaluate's {ftlib_loss}"
    print(f"ok: {model_dir} loads in transformers with problem_type {problem_type}; logits max |diff| {worst:.2e}; "
          f"transformers' loss {hf_loss:.6f} = ftlib evaluate's {ftlib_loss:.6f}")


def compare(model_dir, texts_jsonl, predictions_jsonl, max_length):
    """transformers -> ftlib: ftlib predict's logits and labels against transformers' own."""
    texts = [r["text"] for r in read_jsonl(texts_jsonl)]
    _, model, ours = hf_logits(model_dir, texts, max_length)
    theirs = read_jsonl(predictions_jsonl)
    worst = max(abs(a - b) for x, y in zip(ours, [r["logits"] for r in theirs]) for a, b in zip(x, y))
    assert worst <= TOLERANCE, f"{model_dir}: ftlib's logits differ from transformers' by {worst}"
    labels = [model.config.id2label[max(range(len(x)), key=x.__getitem__)] for x in ours]
    assert labels == [r["label"] for r in theirs], f"{model_dir}: ftlib's predicted labels differ from transformers'"
    print(f"ok: ftlib reads {model_dir} (transformers-written); logits max |diff| {worst:.2e}, labels identical")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "check-ftlib-model":
        check_ftlib_model(args[0], args[1], args[2], args[3], int(args[4]))
    elif command == "write-hf-model":
        write_hf_model(args[0], args[1], args[2], args[3], int(args[4]))
    elif command == "check-problem-type":
        check_problem_type(args[0], args[1], args[2], args[3], args[4], int(args[5]), args[6])
    elif command == "compare":
        compare(args[0], args[1], args[2], int(args[3]))
    else:
        sys.exit(f"unknown command {command}")
