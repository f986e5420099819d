"""Fine-tune the verifier's direction model: given a claim and an evidence sentence, SUPPORTS or REFUTES?

The 3-way cross-encoder (train.py) learns mostly *relevance*: on evidence abstracts its SUPPORTS/REFUTES choice
was near chance. This script trains a separate 2-way head on the SUPPORTS/REFUTES pairs only, starting from the
3-way checkpoint, with every pair that `augment.negate` can rewrite added once more with the claim negated and
the label flipped (SciFact, HealthVer, COVID-Fact). It prints direction accuracy on the validation claims'
gold rationale sentences for the new model and for the 3-way model's own SUPPORTS-vs-REFUTES choice.

    OMP_NUM_THREADS=2 /work/venv-train/bin/python -m training.verifier.direction \
        --data /work/cache/verifier-data --init /work/cache/verifier-ckpt --out /work/cache/direction-ckpt
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from training.verifier.augment import corpus_pairs, negate
from training.verifier.train import fit, save

DIRECTION_LABELS = ["SUPPORTS", "REFUTES"]
AUGMENT = {"scifact", "healthver", "covidfact"}


def direction_pairs(path: Path, upsample_scifact: int, rng: random.Random) -> list[dict]:
    """SUPPORTS/REFUTES pairs of the 3-way training file, plus their negated-claim twins."""
    rows = [r for r in map(json.loads, open(path, encoding="utf-8")) if r["label"] in (0, 1)]
    aug = []
    for r in rows:
        if r["src"] in AUGMENT:
            neg = negate(r["claim"])
            if neg:
                aug.append({**r, "claim": neg, "label": 1 - r["label"], "src": r["src"] + "-neg"})
    sci = [r for r in rows + aug if r["src"].startswith("scifact")]
    out = rows + aug + sci * (upsample_scifact - 1)
    rng.shuffle(out)
    return out


def val_pairs(data: Path, corpus_path: Path) -> list[dict]:
    """Gold rationale sentences of the validation claims, with their SciFact label."""
    corpus = {d["doc_id"]: d for d in map(json.loads, open(corpus_path, encoding="utf-8"))}
    out = []
    for c in map(json.loads, open(data / "val_claims.jsonl", encoding="utf-8")):
        for doc, sets in c["evidence"].items():
            for ev in sets:
                for i in ev["sentences"]:
                    out.append({"claim": c["claim"], "sentence": corpus[int(doc)]["abstract"][i],
                                "label": 0 if ev["label"] == "SUPPORT" else 1, "doc": f"{c['id']}:{doc}"})
    return out


@torch.no_grad()
def direction_scores(model, tok, pairs: list[dict], max_len: int) -> torch.Tensor:
    """P(REFUTES | supports-or-refutes) per pair (2-way model, or the 3-way model's first two logits)."""
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for b in range(0, len(pairs), 64):
        batch = pairs[b:b + 64]
        enc = tok([r["claim"] for r in batch], [r["sentence"] for r in batch], truncation="longest_first",
                  max_length=max_len, padding=True, return_tensors="pt").to(dev)
        out.append(torch.softmax(model(**enc).logits[:, :2].float(), dim=-1)[:, 1].cpu())
    return torch.cat(out) if out else torch.zeros(0)


def accuracy(p_ref: torch.Tensor, pairs: list[dict]) -> tuple[float, float]:
    """(sentence accuracy, abstract accuracy by mean P(REFUTES) over its rationale sentences)."""
    gold = torch.tensor([r["label"] for r in pairs])
    sent = float(((p_ref > 0.5).long() == gold).float().mean())
    docs: dict[str, list] = {}
    for r, p in zip(pairs, p_ref.tolist(), strict=True):
        docs.setdefault(r["doc"], [r["label"], []])[1].append(p)
    abst = sum((sum(ps) / len(ps) > 0.5) == bool(lab) for lab, ps in docs.values()) / len(docs)
    return sent, abst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--init", type=Path, required=True, help="the 3-way checkpoint (train.py output)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, default=Path("../shared/data/scifact/corpus.jsonl"))
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--upsample-scifact", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--corpus-pairs", action="store_true",
                    help="add conclusion-vs-result pairs (and their negations) from the corpus abstracts, "
                         "leaving out every abstract a validation claim cites")
    ap.add_argument("--every-finding", action="store_true", help="corpus pairs from every finding-like sentence")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tok = AutoTokenizer.from_pretrained(args.init)
    val = val_pairs(args.data, args.corpus)
    base = AutoModelForSequenceClassification.from_pretrained(args.init)
    s, a = accuracy(direction_scores(base, tok, val, args.max_len), val)
    print(f"init model ({args.init.name}), S-vs-R on {len(val)} val rationale sentences: sentence acc {s:.3f}, abstract acc {a:.3f}; "
          f"always-SUPPORTS {sum(r['label'] == 0 for r in val) / len(val):.3f}", flush=True)
    del base
    model = AutoModelForSequenceClassification.from_pretrained(
        args.init, num_labels=2, id2label=dict(enumerate(DIRECTION_LABELS)),
        label2id={n: i for i, n in enumerate(DIRECTION_LABELS)}, ignore_mismatched_sizes=True)
    rows = direction_pairs(args.data / "train.jsonl", args.upsample_scifact, rng)
    if args.corpus_pairs:
        held = {int(d) for c in map(json.loads, open(args.data / "val_claims.jsonl", encoding="utf-8"))
                for d in [*c.get("cited_doc_ids", []), *c["evidence"]]}
        docs = [d["abstract"] for d in map(json.loads, open(args.corpus, encoding="utf-8")) if d["doc_id"] not in held]
        rows += corpus_pairs(docs, every_finding=args.every_finding)
        rng.shuffle(rows)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["src"]] = counts.get(r["src"], 0) + 1
    print(f"{len(rows)} training pairs: {counts}", flush=True)

    def report(step: int) -> None:
        s, a = accuracy(direction_scores(model, tok, val, args.max_len), val)
        print(f"step {step}: val sentence acc {s:.3f}, abstract acc {a:.3f}", flush=True)

    t0 = time.time()
    step = fit(model, tok, rows, torch.nn.CrossEntropyLoss(), rng, batch=args.batch, epochs=args.epochs, lr=args.lr,
               max_len=args.max_len, after_epoch=report)
    save(model, tok, args.out, f"{step} steps, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
