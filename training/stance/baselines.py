"""What else was tried for the stance model on PubMedQA-L, and not shipped: out-of-fold figures on the same 5 folds.

    python -m training.stance.baselines --pubmedqa ../shared/data/pubmedqa/pqal_trainval.json \
        --features /tmp/stance-features.npy

- TF-IDF logistic regressions on the contexts, the results sections and the question; the 17 verifier features
  concatenated with the question and results TF-IDF; the same with per-class biases chosen nested (on the other
  four folds, maximising accuracy + macro-F1).
- A sentence-polarity model (significant vs no significant difference) fitted on Evidence Inference 2.0's evidence
  spans, read over each abstract weighted by MiniLM similarity to the question, alone and beside the 17 features.
--features is the cache `training.stance.fit --features` writes (computed here when missing).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import cross_val_score

from helpers import config
from helpers.evaluation.stance import ANSWERS, load_pubmedqa
from training.stance import fit
from training.stance.data import fold_of


def report(name: str, scores: np.ndarray, y: np.ndarray) -> None:
    pred = scores.argmax(1)
    print(f"{name:<58} accuracy {accuracy_score(y, pred):.3f}  macro-F1 "
          f"{f1_score(y, pred, average='macro', labels=[0, 1, 2], zero_division=0):.3f}")


def oof(make, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    out = np.zeros((len(y), 3))
    for k in range(5):
        tr, te = np.where(folds != k)[0], np.where(folds == k)[0]
        out[te] = make(tr, te)
    return out


def tfidf(texts: list[str], y: np.ndarray, C: float, dense: np.ndarray | None = None, extra: list[str] | None = None):
    """A fold's log-probabilities from TF-IDF of `texts` (and of `extra`), beside standardised `dense` columns."""
    def make(tr, te):
        parts_tr, parts_te = [], []
        for col in [texts] + ([extra] if extra else []):
            v = TfidfVectorizer(min_df=2, sublinear_tf=True)
            parts_tr.append(v.fit_transform([col[i] for i in tr]))
            parts_te.append(v.transform([col[i] for i in te]))
        if dense is not None:
            mu, sd = dense[tr].mean(0), dense[tr].std(0) + 1e-9
            parts_tr.insert(0, csr_matrix((dense[tr] - mu) / sd * 0.3))
            parts_te.insert(0, csr_matrix((dense[te] - mu) / sd * 0.3))
        m = LogisticRegression(C=C, max_iter=5000).fit(hstack(parts_tr).tocsr(), y[tr])
        return m.predict_log_proba(hstack(parts_te).tocsr())
    return make


def nested_biases(scores: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Predictions with per-class biases (no, maybe) chosen on the other folds for accuracy + macro-F1."""
    grid = [(b1, b2) for b1 in np.arange(-0.5, 1.01, 0.1) for b2 in np.arange(0, 2.01, 0.1)]
    out = np.zeros_like(scores)
    for k in range(5):
        tr, te = folds != k, folds == k

        def obj(b, tr=tr):
            p = (scores[tr] + [0, *b]).argmax(1)
            return accuracy_score(y[tr], p) + f1_score(y[tr], p, average="macro", labels=[0, 1, 2], zero_division=0)
        best = max(grid, key=obj)
        out[te] = scores[te] + [0, *best]
    return out


def polarity_features(items: list[dict], ei_dir: Path) -> np.ndarray:
    """Per abstract: the Evidence Inference polarity (P(no significant difference)) of its sentences, summarised
    over the most question-like ones (MiniLM cosine) and the second half."""
    from helpers.retrieval.embed import get_embedder, normalise

    rows = list(csv.DictReader((ei_dir / "v2_annotations.csv").open(encoding="utf-8")))
    texts = [re.sub(r"\s+", " ", r["Annotations"]) for r in rows]
    labels = [1 if r["Label"].startswith("no") else 0 for r in rows]
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    X = vec.fit_transform(texts)
    print(f"Evidence Inference polarity, {len(rows)} spans, 5-fold accuracy "
          f"{cross_val_score(LogisticRegression(C=3, max_iter=3000), X, labels, cv=5).mean():.3f}")
    pol = LogisticRegression(C=3, max_iter=3000).fit(X, labels)
    emb = get_embedder()
    sents = [s for it in items for s in it["sentences"]]
    E, Q = normalise(emb.encode(sents)), normalise(emb.encode([it["question"] for it in items]))
    P = pol.predict_proba(vec.transform(sents))[:, 1]
    logit = lambda x: np.log(np.clip(x, 1e-3, 1 - 1e-3) / (1 - np.clip(x, 1e-3, 1 - 1e-3)))  # noqa: E731
    out, start = [], 0
    for k, it in enumerate(items):
        n = len(it["sentences"])
        e, p = E[start:start + n], P[start:start + n]
        start += n
        cos, half = e @ Q[k], np.arange(n // 2, n)
        top, w = np.argsort(-cos)[:3], np.exp(cos * 10) / np.exp(cos * 10).sum()
        out.append([logit(p[top]).mean(), logit(p[top[0]]), (w * logit(p)).sum(), logit(p[half]).mean(),
                    logit(p[half]).max(), logit(p[half]).min(), logit(p[-3:]).mean(), cos.max(), cos[half].mean(),
                    (p[half] > 0.5).mean(), (p[half] > 0.5).sum()])
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pubmedqa", type=Path, required=True)
    ap.add_argument("--features", type=Path, required=True, help="the 17-feature cache of training.stance.fit")
    args = ap.parse_args()
    raw = json.loads(args.pubmedqa.read_text(encoding="utf-8"))
    items = load_pubmedqa(args.pubmedqa)
    if args.features.exists():
        X17 = np.load(args.features)
    else:
        from helpers.verification.stance import feature_rows
        from helpers.verification.verifier import NliVerifier

        X17 = feature_rows(NliVerifier(), [(it["question"], it["sentences"]) for it in items])
        np.save(args.features, X17)
    y = np.array([ANSWERS.index(it["gold"]) for it in items])
    folds = np.array([fold_of(it["id"]) for it in items])

    def results(v: dict) -> str:
        r = [c for c, lab in zip(v["CONTEXTS"], v["LABELS"], strict=False) if "RESULT" in lab.upper()]
        return " ".join(r) if r else v["CONTEXTS"][-1]
    full = [" ".join(raw[it["id"]]["CONTEXTS"]) for it in items]
    res = [results(raw[it["id"]]) for it in items]
    q = [it["question"] for it in items]
    print(f"PubMedQA-L, {len(y)} items, 5 folds by pmid; every figure out of fold")
    report("majority class", np.tile(np.bincount(y, minlength=3) / len(y), (len(y), 1)), y)
    report("17 verifier features (the shipped head, C = 0.1)", fit.oof(X17, y, folds, 0.1), y)
    for name, texts in (("contexts", full), ("results sections", res), ("question", q)):
        for C in (1, 10):
            report(f"TF-IDF of the {name}, C = {C}", oof(tfidf(texts, y, C), y, folds), y)
    cat = oof(tfidf(q, y, 10, dense=X17, extra=res), y, folds)
    report("17 features + TF-IDF of question and results, C = 10", cat, y)
    report("  the same with per-class biases chosen nested", nested_biases(cat, y, folds), y)
    F = polarity_features(items, config.data_root() / "evidence-inference")
    report("Evidence Inference polarity features, C = 0.03", fit.oof(F, y, folds, 0.03), y)
    report("17 features + polarity features, C = 0.03", fit.oof(np.hstack([X17, F]), y, folds, 0.03), y)


if __name__ == "__main__":
    main()
