# What transformers' Trainer does with gradient accumulation on a sequence classifier (a finding
# recorded in docs/reliability.md, "transformers and gradient accumulation"): two micro-batches of 4
# against one batch of 8 of the same rows, learning rate 0, no clipping; prints the logged loss and
# gradient norm of both. With transformers 5.24 the accumulated step reports twice the loss and twice
# the gradient norm: DistilBertForSequenceClassification.forward takes **kwargs, so the Trainer
# assumes the model normalises its loss by num_items_in_batch and does not divide by the accumulation
# steps - but the model's CrossEntropyLoss is a plain per-micro-batch mean. ftlib averages the
# micro-batches (accumulation 2 x 4 == one batch of 8, as in a plain torch loop).
#   python tests/interop/check_accumulation.py   (the venv of scripts/python_env.sh)
import torch, transformers, inspect
from transformers import DistilBertConfig, DistilBertForSequenceClassification, Trainer, TrainingArguments
torch.manual_seed(0)
cfg = DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, max_position_embeddings=32, dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0, num_labels=2)
base = DistilBertForSequenceClassification(cfg)
class DS(torch.utils.data.Dataset):
    def __init__(self): 
        g = torch.Generator().manual_seed(1)
        self.x = torch.randint(1, 50, (8, 6), generator=g); self.y = torch.randint(0, 2, (8,), generator=g)
    def __len__(self): return 8
    def __getitem__(self, i): return {"input_ids": self.x[i], "attention_mask": torch.ones(6, dtype=torch.long), "labels": self.y[i]}
class Seq(Trainer):
    def _get_train_sampler(self, *a, **k): return torch.utils.data.SequentialSampler(self.train_dataset)
def run(ga, bs):
    m = DistilBertForSequenceClassification(cfg); m.load_state_dict(base.state_dict())
    args = TrainingArguments(output_dir="/tmp/ftlib-accumulation-check", per_device_train_batch_size=bs, gradient_accumulation_steps=ga, max_steps=1, learning_rate=0.0, max_grad_norm=1e9, logging_steps=1, report_to=[], save_strategy="no", use_cpu=True)
    t = Seq(model=m, args=args, train_dataset=DS())
    print("accepts_loss_kwargs", t.model_accepts_loss_kwargs)
    t.train()
    return [h for h in t.state.log_history if "grad_norm" in h][0]
a = run(2, 4); b = run(1, 8)
print("GA 2 x 4:", a); print("one batch of 8:", b)
