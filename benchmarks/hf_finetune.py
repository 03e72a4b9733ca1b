"""The peer of `ftlib train` in scripts/compare_hf.sh: the same fine-tuning recipe with HuggingFace
transformers' own Trainer on the same files (a pretrained checkpoint directory and the review CSVs).

Writes one JSON object (test accuracy, macro-F1, loss, steps, seconds) to --output. Run it with the
project's virtual environment: "$(scripts/python_env.sh)/bin/python" benchmarks/hf_finetune.py ...
"""

import argparse
import csv
import json
import os
import time


def read_csv(path, text_column, label_column, label_offset):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r[text_column] for r in rows], [int(r[label_column]) - label_offset for r in rows]


def macro_f1(predictions, labels, num_labels):
    """scikit-learn's f1_score(average="macro", zero_division=0)."""
    scores = []
    for c in range(num_labels):
        tp = sum(1 for p, y in zip(predictions, labels) if p == c and y == c)
        fp = sum(1 for p, y in zip(predictions, labels) if p == c and y != c)
        fn = sum(1 for p, y in zip(predictions, labels) if p != c and y == c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / num_labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with train.csv, validation.csv, test.csv")
    ap.add_argument("--output", required=True)
    ap.add_argument("--work", required=True, help="scratch folder for the Trainer's checkpoints")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--learning-rate", type=float, default=5e-5)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--eval-steps", type=int, default=27)
    ap.add_argument("--patience", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--text-column", default="review_body")
    ap.add_argument("--label-column", default="stars")
    ap.add_argument("--label-offset", type=int, default=1)
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              EarlyStoppingCallback, Trainer, TrainingArguments)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    splits = {name: read_csv(os.path.join(args.data, name + ".csv"), args.text_column, args.label_column, args.label_offset)
              for name in ("train", "validation", "test")}
    num_labels = max(max(labels) for _, labels in splits.values()) + 1
    tokenizer = AutoTokenizer.from_pretrained(args.model)

    class Rows(torch.utils.data.Dataset):
        def __init__(self, texts, labels):
            self.encodings = tokenizer(texts, truncation=True, max_length=args.max_length)
            self.labels = labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            item = {k: v[i] for k, v in self.encodings.items()}
            item["labels"] = self.labels[i]
            return item

    data = {name: Rows(*split) for name, split in splits.items()}
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=num_labels)
    training_args = TrainingArguments(
        output_dir=args.work, seed=args.seed, learning_rate=args.learning_rate, num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.batch_size,
        eval_strategy="steps", eval_steps=args.eval_steps, save_strategy="steps", save_steps=args.eval_steps,
        load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
        lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
        logging_steps=args.eval_steps, report_to=[], save_total_limit=2, use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=training_args, train_dataset=data["train"], eval_dataset=data["validation"],
                      data_collator=DataCollatorWithPadding(tokenizer),
                      callbacks=[EarlyStoppingCallback(early_stopping_patience=args.patience)])
    start = time.perf_counter()
    train = trainer.train()
    train_seconds = time.perf_counter() - start
    out = trainer.predict(data["test"])
    predictions = out.predictions.argmax(-1).tolist()
    labels = splits["test"][1]
    result = {
        "framework": "transformers " + __import__("transformers").__version__ + ", torch " + torch.__version__,
        "seed": args.seed,
        "global_step": train.global_step,
        "train_seconds": train_seconds,
        "test_loss": out.metrics["test_loss"],
        "test_accuracy": sum(p == y for p, y in zip(predictions, labels)) / len(labels),
        "test_f1_macro": macro_f1(predictions, labels, num_labels),
        "best_step": int(trainer.state.best_model_checkpoint.rsplit("-", 1)[1]) if trainer.state.best_model_checkpoint else None,
    }
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
