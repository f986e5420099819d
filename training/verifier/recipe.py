"""The shipped training recipe in one place, on any torch device: the 3-way model (train.py's defaults), then the
direction model from its encoder in two stages (direction.py as run.sh calls it). Used by cv.py and sweep.py."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from training.verifier.direction import DIRECTION_LABELS
from training.verifier.train import LABELS, fit, load_pairs

BATCH, MAX_LEN = 16, 128
THREE_WAY = {"epochs": 1.5, "lr": 4e-5, "seed": 20}  # SciFact rationale pairs up-sampled x2
STAGE1 = {"epochs": 3, "lr": 3e-5, "seed": 20}  # labelled SUPPORTS/REFUTES pairs + negated-claim twins
STAGE2 = {"epochs": 1, "lr": 2e-5, "seed": 22}  # the same + corpus conclusion pairs


def train_stage(model, tok, rows: list[dict], *, epochs: float, lr: float, seed: int):
    """One fine-tuning stage: rows shuffled by `seed`, cross-entropy, the recipe's batch and length."""
    torch.manual_seed(seed)
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    fit(model, tok, rows, torch.nn.CrossEntropyLoss(), random.Random(seed), batch=BATCH, epochs=epochs, lr=lr,
        max_len=MAX_LEN)
    return model


def three_way(base: Path, tok, train_file: Path, dev: str, seed: int = THREE_WAY["seed"]):
    """The 3-way (SUPPORTS / REFUTES / NEI) model fine-tuned from `base` on a data-recipe file (`seed`: of the
    data order and dropout)."""
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    model = model.float().to(dev)
    torch.manual_seed(seed)
    fit(model, tok, load_pairs(train_file, 2), torch.nn.CrossEntropyLoss(), random.Random(seed),
        batch=BATCH, epochs=THREE_WAY["epochs"], lr=THREE_WAY["lr"], max_len=MAX_LEN)
    return model


def direction_model(base: Path, encoder_state: dict, dev: str):
    """A fresh 2-way (SUPPORTS / REFUTES) head on the 3-way model's encoder weights (`encoder_state`: its
    state dict; the classifier's weights are left out)."""
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label=dict(enumerate(DIRECTION_LABELS)),
        label2id={n: i for i, n in enumerate(DIRECTION_LABELS)}).float()
    model.load_state_dict({n: v for n, v in encoder_state.items() if not n.startswith("classifier.")}, strict=False)
    return model.to(dev)
