"""Fit the stance calibration on out-of-fold PubMedQA logits and report what it does.

    python -m training.stance.calibrate --work /work/cache/stance --out models/stance

The temperature minimises the out-of-fold negative log-likelihood of the yes / no / maybe answers. The offsets
(added to the yes / no / maybe logits before the argmax) are chosen for macro-F1, and are themselves measured by
5-fold cross-fitting over the out-of-fold items, so the figures printed for them are not fitted on the items
they are scored on. Writes calibration.json with the figures in its `meta`.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import accuracy_score, f1_score

from helpers.evaluation.metrics import expected_calibration_error
from helpers.verification.stance import StanceCalibration

ANSWERS = ("yes", "no", "maybe")
GRID = np.round(np.arange(-1.0, 1.01, 0.25), 2)


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    def nll(t: float) -> float:
        p = StanceCalibration(temperature=t).answer_probs(logits)
        return float(-np.mean(np.log(p[np.arange(len(gold)), gold] + 1e-12)))

    return float(minimize_scalar(nll, bounds=(0.2, 10.0), method="bounded").x)


def fit_bias(logits: np.ndarray, gold: np.ndarray, temperature: float) -> list[float]:
    """Offsets on (no, maybe) relative to yes that maximise macro-F1 (a coarse grid; ties -> smallest offsets)."""
    best, best_f1 = [0.0, 0.0, 0.0], -1.0
    for b_no, b_maybe in itertools.product(GRID, GRID):
        bias = [0.0, float(b_no), float(b_maybe)]
        pred = StanceCalibration(temperature, bias).answer_probs(logits).argmax(1)
        f1 = f1_score(gold, pred, average="macro", labels=[0, 1, 2], zero_division=0)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = bias, f1
    return best


def report(name: str, probs: np.ndarray, gold: np.ndarray) -> dict:
    pred = probs.argmax(1)
    m = {"accuracy": round(float(accuracy_score(gold, pred)), 4),
         "macro_f1": round(float(f1_score(gold, pred, average="macro", labels=[0, 1, 2], zero_division=0)), 4),
         "ece": round(expected_calibration_error(probs.max(1), pred == gold), 4)}
    print(f"{name:<44} accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  ECE {m['ece']:.3f}")
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="training.stance.train's work folder (oof.npy)")
    ap.add_argument("--pairs", type=Path, required=True, help="the pairs file (for the PubMedQA gold labels)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    logits = np.load(args.work / "oof.npy")
    pqa = [json.loads(x) for x in open(args.pairs, encoding="utf-8")]
    pqa = [r for r in pqa if r["source"] == "pubmedqa"]
    gold = np.array([ANSWERS.index(r["label"]) for r in pqa])
    folds = np.array([r["fold"] for r in pqa])
    n = len(gold)
    print(f"PubMedQA-L, {n} items out of fold (5 folds by pmid); majority class 'yes': "
          f"accuracy {np.mean(gold == 0):.3f}, macro-F1 {f1_score(gold, np.zeros(n, int), average='macro', labels=[0, 1, 2], zero_division=0):.3f}")
    report("raw argmax", StanceCalibration().answer_probs(logits), gold)
    t = fit_temperature(logits, gold)
    metrics = {"temperature_only": report(f"temperature {t:.2f}", StanceCalibration(t).answer_probs(logits), gold)}
    # offsets cross-fitted: each fold's offsets chosen on the other four folds
    cross = np.zeros((n, 3))
    for k in sorted(set(folds)):
        tr, te = folds != k, folds == k
        tk = fit_temperature(logits[tr], gold[tr])
        cross[te] = StanceCalibration(tk, fit_bias(logits[tr], gold[tr], tk)).answer_probs(logits[te])
    metrics["with_offsets_cross_fitted"] = report("temperature + offsets (cross-fitted)", cross, gold)
    bias = fit_bias(logits, gold, t)
    metrics["with_offsets_in_sample"] = report(f"temperature + offsets {bias[1:]} (in sample)",
                                               StanceCalibration(t, bias).answer_probs(logits), gold)
    cal = StanceCalibration(t, bias, meta={
        "fitted_on": f"out-of-fold logits of {n} PubMedQA-L trainval items (training/stance/train.py)",
        "metrics": metrics})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps(cal.__dict__, indent=1) + "\n")
    print(f"wrote {args.out / 'calibration.json'}")


if __name__ == "__main__":
    main()
