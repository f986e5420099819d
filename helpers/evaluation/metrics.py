"""SciFact's official verification metrics (Wadden et al. 2020, `verisci/evaluate`) and ECE.

Predictions and gold use SciFact's format. Gold: ``{"id", "evidence": {doc: [{"sentences": [...], "label"}]}}``.
Prediction: ``{"id", "evidence": {doc: {"label": "SUPPORT"|"CONTRADICT", "sentences": [...]}}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

MAX_ABSTRACT_SENTS = 3  # abstract-level: only the first 3 predicted rationale sentences count


def prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    """Precision, recall and F1 (0 where undefined)."""
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def _gold_by_id(gold: Iterable[dict]) -> dict[int, dict[str, list[dict]]]:
    return {int(g["id"]): {str(d): v for d, v in (g.get("evidence") or {}).items()} for g in gold}


def abstract_level(preds: Iterable[dict], gold: Iterable[dict]) -> dict[str, dict[str, float]]:
    """Abstract-level label-only and label+rationale P/R/F1."""
    gold_ev = _gold_by_id(gold)
    n_gold = sum(len(ev) for ev in gold_ev.values())
    n_pred = correct_label = correct_rationale = 0
    for pred in preds:
        ev = gold_ev.get(int(pred["id"]), {})
        for doc, dp in (pred.get("evidence") or {}).items():
            n_pred += 1
            doc = str(doc)
            if doc not in ev:
                continue
            good_label = all(dp["label"] == g["label"] for g in ev[doc])
            pred_sents = set(dp.get("sentences", [])[:MAX_ABSTRACT_SENTS])
            good_rationale = any(set(g["sentences"]) <= pred_sents for g in ev[doc])
            correct_label += good_label
            correct_rationale += good_label and good_rationale
    return {"label_only": prf(correct_label, n_pred, n_gold), "label_rationale": prf(correct_rationale, n_pred, n_gold)}


def sentence_level(preds: Iterable[dict], gold: Iterable[dict]) -> dict[str, dict[str, float]]:
    """Sentence-level selection-only and selection+label P/R/F1: a predicted sentence counts only when
    its whole gold rationale set is predicted too (and, for +label, the label matches)."""
    gold_ev = _gold_by_id(gold)
    n_gold = sum(len(g["sentences"]) for ev in gold_ev.values() for sets in ev.values() for g in sets)
    n_pred = sel = sel_label = 0
    for pred in preds:
        ev = gold_ev.get(int(pred["id"]), {})
        for doc, dp in (pred.get("evidence") or {}).items():
            sents = list(dp.get("sentences", []))
            n_pred += len(sents)
            sets = ev.get(str(doc), [])
            label_ok = bool(sets) and all(dp["label"] == g["label"] for g in sets)
            for ix in sents:
                hit = [g for g in sets if ix in g["sentences"]]
                if hit and set(hit[0]["sentences"]) <= set(sents):
                    sel += 1
                    sel_label += label_ok
    return {"selection_only": prf(sel, n_pred, n_gold), "selection_label": prf(sel_label, n_pred, n_gold)}


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of (bin share) * |accuracy - mean confidence|."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(hit[sel].mean() - conf[sel].mean())
    return float(ece)
