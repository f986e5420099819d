"""Fit the stance model (models/stance/stance.json) on PubMedQA-L and measure it out of fold.

    python -m training.stance.fit --pubmedqa ../shared/data/pubmedqa/pqal_trainval.json --out models/stance

Each item is read as the pipeline reads a paper (helpers.verification.stance.features: the shipped verifier
scores every sentence against the question's hypothesis). A multinomial logistic regression over those features
reads yes / no / maybe; its regularisation is chosen by 5-fold cross-validation (fixed folds by pmid), and the
temperature is fitted on the out-of-fold scores. Every figure printed is out of fold, beside the majority class.
Also printed, not shipped: the same head with balanced class weights (more 'maybe', less accuracy).

With --llm-features (the output of training.stance.llm_features), a second head is fitted on the same features
plus the LLM's answer probabilities (helpers.llm.stance.LLM_FEATURES) and written as stance-llm.json, for runs
with the LLM reader on. Its regularisation and class weighting (weights (n / n_class) ** alpha) are chosen to
maximise accuracy + macro-F1, and the figure printed for that choice is nested: each outer fold's choice is made
on the other four folds only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from helpers.evaluation.metrics import expected_calibration_error
from helpers.evaluation.stance import ANSWERS, load_pubmedqa
from helpers.llm.settings import DEFAULT_MODEL
from helpers.verification.stance import FEATURES, StanceHead, feature_rows
from helpers.verification.verifier import NliVerifier
from training.stance.data import fold_of

C_GRID = (0.03, 0.1, 0.3, 1.0)
ALPHA_GRID = (0.0, 0.25, 0.5, 0.75)  # class weights (n / n_class) ** alpha: 0 plain, 1 balanced


def class_weights(y: np.ndarray, alpha: float) -> dict[int, float] | None:
    """(n / n_class) ** alpha per class (None for alpha 0)."""
    if alpha == 0:
        return None
    counts = np.bincount(y, minlength=3)
    return {c: float((len(y) / (3 * counts[c])) ** alpha) for c in range(3)}


def oof(X: np.ndarray, y: np.ndarray, folds: np.ndarray, C: float, weight=None,
        only: np.ndarray | None = None) -> np.ndarray:
    """Out-of-fold decision scores (n, 3) of a standardised multinomial logistic regression (over the folds in
    `only`, when given; other rows stay 0)."""
    out = np.zeros((len(y), 3))
    for k in (np.unique(folds) if only is None else only):
        tr, te = folds != k, folds == k
        if only is not None:
            tr &= np.isin(folds, only)
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-9
        m = LogisticRegression(C=C, max_iter=4000, class_weight=weight).fit((X[tr] - mu) / sd, y[tr])
        out[te] = m.decision_function((X[te] - mu) / sd)
    return out


def softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = z / t - (z / t).max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def row(name: str, probs: np.ndarray, y: np.ndarray) -> dict:
    pred = probs.argmax(1)
    m = {"accuracy": round(float(accuracy_score(y, pred)), 4),
         "macro_f1": round(float(f1_score(y, pred, average="macro", labels=[0, 1, 2], zero_division=0)), 4),
         "ece": round(expected_calibration_error(probs.max(1), pred == y), 4)}
    print(f"{name:<48} accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  ECE {m['ece']:.3f}")
    return m


def fold_in(X: np.ndarray, y: np.ndarray, C: float, weight=None) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of a logistic regression fitted on standardised X, the standardisation folded in:
    z = W' (x - mu) / sd + b' = (W' / sd) x + (b' - W' mu / sd)."""
    mu, sd = X.mean(0), X.std(0) + 1e-9
    final = LogisticRegression(C=C, max_iter=4000, class_weight=weight).fit((X - mu) / sd, y)
    W = final.coef_ / sd
    return W, final.intercept_ - W @ mu


def temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the log-loss of out-of-fold `scores`."""
    n = len(y)
    return float(minimize_scalar(lambda t: -np.mean(np.log(softmax(scores, t)[np.arange(n), y] + 1e-12)),
                                 bounds=(0.2, 10.0), method="bounded").x)


def objective(y: np.ndarray, scores: np.ndarray) -> float:
    pred = scores.argmax(1)
    return float(accuracy_score(y, pred) + f1_score(y, pred, average="macro", labels=[0, 1, 2], zero_division=0))


def select(X: np.ndarray, y: np.ndarray, folds: np.ndarray, within: np.ndarray) -> tuple[float, float]:
    """(C, alpha) maximising accuracy + macro-F1 out of fold, using only the folds in `within`."""
    rows = np.isin(folds, within)
    best = max((objective(y[rows], oof(X, y, folds, C, class_weights(y[rows], a), within)[rows]), -C, a)
                for C in C_GRID for a in ALPHA_GRID)
    return -best[1], best[2]


def fit_llm_head(X: np.ndarray, y: np.ndarray, folds: np.ndarray, model_name: str, source: str) -> StanceHead:
    """The head over the verifier's features and the LLM's, with its nested out-of-fold figures in `meta`."""
    from helpers.llm.stance import LLM_FEATURES

    n = len(y)
    prior = np.bincount(y, minlength=3) / n
    metrics = {"majority": row("majority class (yes)", np.tile(prior, (n, 1)), y)}
    metrics["verifier_head"] = row("verifier features alone, C = 0.1", softmax(oof(X[:, :len(FEATURES)], y, folds, 0.1)), y)
    metrics["llm_alone"] = row("LLM answer probabilities alone, C = 0.1", softmax(oof(X[:, len(FEATURES):], y, folds, 0.1)), y)
    nested = np.zeros((n, 3))
    ks = np.unique(folds)
    for k in ks:
        C, a = select(X, y, folds, ks[ks != k])
        tr, te = folds != k, folds == k
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-9
        m = LogisticRegression(C=C, max_iter=4000, class_weight=class_weights(y[tr], a)).fit((X[tr] - mu) / sd, y[tr])
        nested[te] = m.decision_function((X[te] - mu) / sd)
    C, a = select(X, y, folds, ks)
    t = temperature(nested, y)
    metrics["shipped"] = row(f"verifier + LLM, nested choice (final C = {C}, alpha = {a}), T {t:.2f}",
                             softmax(nested, t), y)
    W, b = fold_in(X, y, C, class_weights(y, a))
    return StanceHead(W.round(6).tolist(), b.round(6).tolist(), round(t, 4), list(FEATURES) + list(LLM_FEATURES), meta={
        "fitted_on": f"{n} PubMedQA-L trainval items (reasoning-required): the verifier's features and the LLM's "
                     f"answer probabilities ({source})",
        "llm_model": model_name, "C": C, "alpha": a, "out_of_fold": metrics,
        "command": "python -m training.stance.fit --pubmedqa ... --out models/stance --llm-features ..."})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pubmedqa", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--features", type=Path, help="cache of the feature rows: written once, read on later runs")
    ap.add_argument("--llm-features", type=Path, help="the LLM's answers (training.stance.llm_features): also fit "
                                                      "stance-llm.json")
    ap.add_argument("--llm-model", default=DEFAULT_MODEL, help="the model name the LLM head is for (as the "
                                                              "endpoint calls it)")
    args = ap.parse_args()
    items = load_pubmedqa(args.pubmedqa)
    if args.features and args.features.exists():
        X = np.load(args.features)
    else:
        X = feature_rows(NliVerifier(), [(it["question"], it["sentences"]) for it in items])
        if args.features:
            np.save(args.features, X)
    y = np.array([ANSWERS.index(it["gold"]) for it in items])
    folds = np.array([fold_of(it["id"]) for it in items])
    n = len(y)
    prior = np.bincount(y, minlength=3) / n
    print(f"PubMedQA-L, {n} items, 5 folds by pmid; every figure out of fold")
    metrics = {"majority": row("majority class (yes)", np.tile(prior, (n, 1)), y)}
    best = None
    for C in C_GRID:
        m = row(f"logistic head, C = {C}", softmax(oof(X, y, folds, C)), y)
        if best is None or (m["accuracy"], m["macro_f1"]) > (best[1]["accuracy"], best[1]["macro_f1"]):
            best = (C, m)
    C = best[0]
    scores = oof(X, y, folds, C)
    t = temperature(scores, y)
    metrics["shipped"] = row(f"logistic head, C = {C}, temperature {t:.2f} (shipped)", softmax(scores, t), y)
    metrics["balanced_not_shipped"] = row("balanced class weights (not shipped)",
                                          softmax(oof(X, y, folds, C, "balanced")), y)
    W, b = fold_in(X, y, C)
    head = StanceHead(W.round(6).tolist(), b.round(6).tolist(), round(t, 4), list(FEATURES), meta={
        "fitted_on": f"{n} PubMedQA-L trainval items (reasoning-required), features from the shipped verifier",
        "C": C, "out_of_fold": metrics, "command": "python -m training.stance.fit --pubmedqa ... --out models/stance"})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stance.json").write_text(json.dumps(head.__dict__, indent=1) + "\n")
    print(f"wrote {args.out / 'stance.json'}")
    if args.llm_features:
        from helpers.llm.stance import answer_logprobs, llm_features

        top = {r["id"]: r["top"] for r in map(json.loads, filter(str.strip, args.llm_features.read_text().splitlines()))}
        missing = [it["id"] for it in items if it["id"] not in top]
        if missing:
            raise SystemExit(f"{args.llm_features}: no LLM answer for {len(missing)} items (e.g. {missing[0]})")
        L = np.array([llm_features(answer_logprobs([tuple(t) for t in top[it["id"]]])) for it in items])
        print(f"\nwith the LLM's answer probabilities ({args.llm_model}; nested choice of C and class weights)")
        head = fit_llm_head(np.hstack([X, L]), y, folds, args.llm_model, args.llm_features.name)
        (args.out / "stance-llm.json").write_text(json.dumps(head.__dict__, indent=1) + "\n")
        print(f"wrote {args.out / 'stance-llm.json'}")


if __name__ == "__main__":
    main()
