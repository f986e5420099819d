"""`workbench eval stance`: the stance model on PubMedQA-format items (reasoning-required: question + contexts,
never LONG_ANSWER), with the majority-class baseline in the same run.

Prediction file: one line per item, ``{"id": "<pmid>", "prediction": "yes"|"no"|"maybe", "confidence": p}``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from ..atomic import write_text
from ..text import split_sentences
from .metrics import expected_calibration_error

ANSWERS = ("yes", "no", "maybe")


def load_pubmedqa(path: Path) -> list[dict]:
    """Items as {id, question, sentences, gold}: the contexts joined in order and split into sentences (as the
    model was trained: training.stance.data)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    items = []
    for pmid, it in data.items():
        sents = split_sentences(" ".join(it["CONTEXTS"]))
        items.append({"id": str(pmid), "question": it["QUESTION"], "sentences": sents,
                      "gold": it.get("final_decision")})
    return items


def scores(gold: list[str], pred: list[str], conf: list[float]) -> dict[str, float]:
    labels = list(ANSWERS)
    return {"accuracy": float(accuracy_score(gold, pred)),
            "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
            "ece": expected_calibration_error(conf, [g == p for g, p in zip(gold, pred, strict=True)])}


def evaluate(path: Path, out: Path, model=None) -> list[dict]:
    """Predict every item, write the predictions, and return the table rows (model, the verifier's head alone
    when the model reads more than that, then the majority class)."""
    from ..verification.stance import StanceModel

    items = load_pubmedqa(path)
    model = model or StanceModel()
    t0 = time.perf_counter()
    answers = model.answer([(it["question"], it["sentences"]) for it in items])
    seconds = time.perf_counter() - t0
    write_text(Path(out), "".join(json.dumps({"id": it["id"], "prediction": a, "confidence": round(c, 4)}) + "\n"
                                  for it, (a, c, _) in zip(items, answers, strict=True)))
    rows = []
    gold = [it["gold"] for it in items]
    if all(g in ANSWERS for g in gold):
        pred, conf = [a for a, _, _ in answers], [c for _, c, _ in answers]
        rows.append({"method": getattr(model, "name", "stance"), **scores(gold, pred, conf),
                     "items_per_s": len(items) / seconds if seconds else float("nan")})
        base = getattr(model, "base_probs", None)
        if base is not None:
            rows.append({"method": "verifier's head alone", **scores(gold, [ANSWERS[i] for i in base.argmax(1)],
                                                                     list(base.max(1))), "items_per_s": float("nan")})
        majority, n = Counter(gold).most_common(1)[0]
        rows.append({"method": f"majority class ({majority})",
                     **scores(gold, [majority] * len(gold), [n / len(gold)] * len(gold)), "items_per_s": float("nan")})
    return rows


def report(rows: list[dict], n: int) -> str:
    width = max([26] + [len(r["method"]) + 2 for r in rows])
    lines = [f"{n} items, reasoning-required (question + contexts; LONG_ANSWER never read)",
             f"{'method':<{width}}{'accuracy':>10}{'macro-F1':>10}{'ECE':>8}{'items/s':>9}"]
    for r in rows:
        ips = "" if np.isnan(r["items_per_s"]) else f"{r['items_per_s']:.1f}"
        lines.append(f"{r['method']:<{width}}{r['accuracy']:>10.3f}{r['macro_f1']:>10.3f}{r['ece']:>8.3f}{ips:>9}")
    return "\n".join(lines)
